// Runs the package's real ctiHubPanel component (its decorators stripped, its platform modules
// shimmed) the way Lightning would: construct, set the record, connect, render the template's
// iframe, call the handlers, re-render after each message.
import CtiHubPanel from '/lwc/ctiHubPanel.js';

const params = new URLSearchParams(window.location.search);
const component = new CtiHubPanel();
const state = { component: component, seen: [] };
window.__lwc = state;
window.__lwcCalls = window.__lwcCalls || [];

if (params.get('mode') === 'utility') {
  component.connectedCallback();
  component.handlePageReference({ attributes: { recordId: params.get('recordId'), objectApiName: params.get('object') } });
} else {
  component.recordId = params.get('recordId');
  component.objectApiName = 'Case';
  component.connectedCallback();
}

const frame = document.createElement('iframe');
frame.setAttribute('title', 'CTI Hub panel');
frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox');
frame.addEventListener('load', () => component.handleFrameLoad());
frame.src = component.frameSrc;
frame.style.cssText = component.frameStyle;
document.getElementById('host').appendChild(frame);

// Registered after the component's listener: a message seen here was handled by it first.
window.addEventListener('message', (event) => {
  state.seen.push({ origin: event.origin, data: event.data });
  frame.style.cssText = component.frameStyle;
});

state.navigate = (recordId, objectApiName) => {
  component.handlePageReference({ attributes: { recordId: recordId, objectApiName: objectApiName } });
};
state.frameHeight = () => frame.clientHeight;
