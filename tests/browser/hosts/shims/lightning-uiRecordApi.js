// Shim of 'lightning/uiRecordApi': createRecord records its input and answers like Lightning Data
// Service ({id, ...}), or rejects ({body: {message}}) when the input is not {apiName, fields}.
let created = 0;
export function createRecord(recordInput) {
  (window.__lwcCalls = window.__lwcCalls || []).push(
    { call: 'createRecord', recordInput: JSON.parse(JSON.stringify(recordInput)) });
  if (!recordInput || typeof recordInput.apiName !== 'string' || typeof recordInput.fields !== 'object') {
    return Promise.reject({ body: { message: 'createRecord needs {apiName, fields}' } });
  }
  created += 1;
  return Promise.resolve({ id: '00T' + String(created).padStart(12, '0') + 'AAA', apiName: recordInput.apiName });
}
