// Stand-in for Salesforce's opencti_min.js (Open CTI for Lightning Experience). Each call is
// recorded with its arguments (callbacks replaced by "<function>") and checked against the shapes
// the Open CTI developer guide documents; a call that breaks them is answered with
// {success: false, errors: [...]} and listed in __opencti.violations.
(function () {
  'use strict';
  var SCREENPOP_TYPE = { SOBJECT: 'sobject', URL: 'url', OBJECTHOME: 'objecthome', LIST: 'list',
    SEARCH: 'search', NEW_RECORD_MODAL: 'newRecord', FLOW: 'flow' };
  var CALL_TYPE = { INBOUND: 'inbound', OUTBOUND: 'outbound', INTERNAL: 'internal' };
  var listeners = [];
  var state = {
    calls: [],
    violations: [],
    appView: { url: '/lightning/r/Case/500000000000001AAA/view', recordId: '500000000000001AAA',
      recordName: '00001001', objectType: 'Case' },
    navigate: function (payload) {
      listeners.forEach(function (listener) { listener(payload); });
    }
  };
  window.__opencti = state;

  function values(object) { return Object.keys(object).map(function (key) { return object[key]; }); }

  function record(method, args) {
    var copy = {};
    Object.keys(args || {}).forEach(function (key) {
      copy[key] = typeof args[key] === 'function' ? '<function>' : JSON.parse(JSON.stringify(args[key]));
    });
    state.calls.push({ method: method, args: copy });
  }

  function answer(method, args, problem, returnValue) {
    if (problem) {
      state.violations.push(method + ': ' + problem);
    }
    if (args && typeof args.callback === 'function') {
      var response = problem
        ? { success: false, returnValue: null, errors: [{ description: problem }] }
        : { success: true, returnValue: returnValue === undefined ? null : returnValue, errors: null };
      setTimeout(function () { args.callback(response); }, 0);
    }
  }

  var saved = 0;
  window.sforce = window.sforce || {};
  window.sforce.opencti = {
    SCREENPOP_TYPE: SCREENPOP_TYPE,
    CALL_TYPE: CALL_TYPE,
    getAppViewInfo: function (args) {
      record('getAppViewInfo', args);
      answer('getAppViewInfo', args, typeof args.callback !== 'function' && 'callback required', state.appView);
    },
    onNavigationChange: function (args) {
      record('onNavigationChange', args);
      if (!args || typeof args.listener !== 'function') {
        state.violations.push('onNavigationChange: listener must be a function');
        return;
      }
      listeners.push(args.listener);
    },
    screenPop: function (args) {
      record('screenPop', args);
      var problem = null;
      if (values(SCREENPOP_TYPE).indexOf(args.type) < 0) {
        problem = 'type must be a sforce.opencti.SCREENPOP_TYPE value';
      } else if (!args.params || typeof args.params !== 'object') {
        problem = 'params required';
      } else if (args.type === SCREENPOP_TYPE.SOBJECT && typeof args.params.recordId !== 'string') {
        problem = 'SOBJECT params need {recordId: string}';
      }
      answer('screenPop', args, problem, null);
    },
    searchAndScreenPop: function (args) {
      record('searchAndScreenPop', args);
      var problem = null;
      if (typeof args.searchParams !== 'string') {
        problem = 'searchParams must be a string';
      } else if (args.queryParams !== undefined && typeof args.queryParams !== 'string') {
        problem = 'queryParams must be a string';
      } else if (values(CALL_TYPE).indexOf(args.callType) < 0) {
        problem = 'callType must be a sforce.opencti.CALL_TYPE value';
      } else if (args.deferred !== undefined && typeof args.deferred !== 'boolean') {
        problem = 'deferred must be a boolean';
      }
      answer('searchAndScreenPop', args, problem, {});
    },
    saveLog: function (args) {
      record('saveLog', args);
      var value = args && args.value;
      var problem = null;
      if (!value || typeof value !== 'object') {
        problem = 'value must be an object';
      } else if (!value.Id && typeof value.entityApiName !== 'string') {
        problem = 'value needs Id (update) or entityApiName (create)';
      }
      saved += 1;
      answer('saveLog', args, problem, '00T00000000000' + (100 + saved) + 'A');
    },
    setSoftphonePanelHeight: function (args) {
      record('setSoftphonePanelHeight', args);
      var ok = typeof args.heightPX === 'number' && args.heightPX >= 240 && args.heightPX <= 2560;
      answer('setSoftphonePanelHeight', args, !ok && 'heightPX must be a number from 240 through 2560', true);
    },
    setSoftphonePanelWidth: function (args) {
      record('setSoftphonePanelWidth', args);
      answer('setSoftphonePanelWidth', args, typeof args.widthPX !== 'number' && 'widthPX must be a number', true);
    }
  };
})();
