/*
 * Open CTI (Lightning Experience) host for the CTI Hub bridge.
 *
 * Salesforce frames the adapter URL ({hub}/panel/salesforce?host=opencti) in the softphone panel
 * and adds sfdcIFrameOrigin=<the org's Lightning origin> to it. opencti_min.js must come from that
 * org ("For third-party domains, specify an absolute URL to opencti_min.js"), so it is loaded from
 * sfdcIFrameOrigin, and only when that origin is one of the configured Salesforce domains: the
 * hub's CSP must allow it in script-src (CTIHUB_FRAME_ANCESTORS lists the same domains).
 */
(function () {
  'use strict';

  var API_VERSION = '62.0';
  var SALESFORCE = ['https://*.force.com', 'https://*.salesforce.com'];
  // The Task fields the panel may set through saveLog (as the LWC allows), plus the record links.
  var TASK_FIELDS = ['Subject', 'Description', 'Status', 'Priority', 'Type', 'TaskSubtype',
    'CallDisposition', 'CallObject', 'CallType', 'ActivityDate', 'WhatId', 'WhoId'];
  var MIN_HEIGHT = 240;
  var MAX_HEIGHT = 2560;

  function param(name) {
    return new URLSearchParams(window.location.search).get(name);
  }

  function call(api, method, args, BridgeError) {
    return new Promise(function (resolve, reject) {
      args.callback = function (response) {
        if (response && response.success) {
          resolve(response.returnValue);
        } else {
          var errors = (response && response.errors) || [];
          var first = errors[0] && (errors[0].description || errors[0].message || errors[0].code);
          reject(BridgeError('Open CTI ' + method + ' failed' + (first ? ': ' + first : ''), 'host'));
        }
      };
      api[method](args);
    });
  }

  function toRecord(info) {
    if (!info || !info.recordId) {
      return null;
    }
    return { crm: 'salesforce', object: info.objectType || null, id: info.recordId };
  }

  window.HubBridge.register('opencti', function (ctx) {
    var origin = param('sfdcIFrameOrigin');
    if (!origin || !ctx.originAllowed(origin, SALESFORCE)) {
      return Promise.reject(ctx.BridgeError(
        'Open CTI: sfdcIFrameOrigin ' + JSON.stringify(origin) + ' is not a configured Salesforce domain', 'origin'));
    }
    var version = (document.body && document.body.getAttribute('data-opencti-api-version')) || API_VERSION;
    var loaded = window.sforce && window.sforce.opencti
      ? Promise.resolve()
      : ctx.loadScript(origin + '/support/api/' + version + '/lightning/opencti_min.js');
    return loaded.then(function () {
      var api = window.sforce && window.sforce.opencti;
      if (!api) {
        throw ctx.BridgeError('Open CTI: opencti_min.js did not define sforce.opencti', 'load');
      }
      return {
        current: function () {
          return call(api, 'getAppViewInfo', {}, ctx.BridgeError).then(toRecord);
        },
        subscribe: function (fire) {
          api.onNavigationChange({ listener: function (payload) { fire(toRecord(payload)); } });
        },
        pop: function (record) {
          if (record.id) {
            return call(api, 'screenPop', {
              type: api.SCREENPOP_TYPE.SOBJECT,
              params: { recordId: String(record.id) }
            }, ctx.BridgeError);
          }
          return call(api, 'searchAndScreenPop', {
            searchParams: String(record.search),
            queryParams: '',
            callType: api.CALL_TYPE.INBOUND,
            deferred: false
          }, ctx.BridgeError);
        },
        saveLog: function (fields) {
          var value = { entityApiName: 'Task' };
          // Always a new Task: no Id (an update of any record) and no other entityApiName.
          TASK_FIELDS.forEach(function (name) {
            if (Object.prototype.hasOwnProperty.call(fields, name)) {
              value[name] = fields[name];
            }
          });
          return call(api, 'saveLog', { value: value }, ctx.BridgeError).then(function (id) {
            return { saved: true, id: id || null };
          });
        },
        resize: function (height) {
          var pixels = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, height));
          return call(api, 'setSoftphonePanelHeight', { heightPX: pixels }, ctx.BridgeError);
        }
      };
    });
  });
})();
