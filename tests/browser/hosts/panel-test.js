// Connects the bridge like a panel would and keeps what it reports where the test can read it.
(function () {
  'use strict';
  var state = { ready: false, bridge: null, error: null, current: undefined, records: [], seen: [] };
  window.__panel = state;
  function start() {
    window.HubBridge.connect(document.body.getAttribute('data-host')).then(function (bridge) {
      state.bridge = bridge;
      bridge.onRecordChange(function (record) { state.records.push(record); });
      // Registered after the bridge's own listener, so a message seen here was seen by it first.
      window.addEventListener('message', function (event) {
        state.seen.push({ origin: event.origin, data: event.data });
      });
      state.ready = true;
      document.getElementById('status').textContent = 'connected to ' + bridge.host;
      return bridge.currentRecord().then(function (record) { state.current = record; });
    }).catch(function (error) {
      state.error = { message: error.message, code: error.code };
      document.getElementById('status').textContent = 'error: ' + error.message;
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
