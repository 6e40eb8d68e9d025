/*
 * CTI Hub console bridge: one small interface between the agent panel and the console that
 * frames it, so that no host API leaks into the panel.
 *
 *   HubBridge.connect(host) -> Promise<Bridge>      host: "zaf" | "opencti" | "lwc" | "" (standalone)
 *   bridge.host                                      the host name, or null when standalone
 *   bridge.currentRecord() -> Promise<{crm, object, id} | null>
 *   bridge.onRecordChange(cb) -> unsubscribe()       cb(record | null) when the agent opens another record
 *   bridge.pop(record) -> Promise                    open {crm, object, id} (or {search: "..."}) in the console
 *   bridge.saveLog(fields) -> Promise<{saved, id?, reason?}>
 *   bridge.resize(height) -> Promise                 ask the console for this many pixels of height
 *
 * Each host lives in its own file under bridge/ and is loaded on demand, so a panel in Zendesk
 * never downloads the Salesforce code and the standalone page downloads nothing more.
 *
 * Origins: a host is trusted only from the origins named in the body's data-host-origins
 * attribute (space-separated; "https://*.example.com" matches any subdomain), which the hub renders
 * from CTIHUB_FRAME_ANCESTORS. Without the attribute, each host falls back to its platform's own
 * domains (zendesk.com; force.com and salesforce.com).
 */
(function () {
  'use strict';

  var PROTOCOL = 1;
  var HOSTS = ['zaf', 'opencti', 'lwc'];
  var script = document.currentScript;
  var base = script && script.src ? script.src.replace(/[^/]*([?#].*)?$/, '') : '/static/';
  var factories = {};
  var scripts = {};

  function BridgeError(message, code) {
    var error = new Error(message);
    error.name = 'BridgeError';
    error.code = code || 'bridge';
    return error;
  }

  function loadScript(src) {
    if (!scripts[src]) {
      scripts[src] = new Promise(function (resolve, reject) {
        var element = document.createElement('script');
        element.src = src;
        element.async = true;
        element.onload = function () { resolve(); };
        element.onerror = function () {
          delete scripts[src];
          reject(BridgeError('could not load ' + src, 'load'));
        };
        document.head.appendChild(element);
      });
    }
    return scripts[src];
  }

  function configuredOrigins() {
    var body = document.body;
    var value = body && body.getAttribute('data-host-origins');
    if (value === null || value === undefined) {
      return null;
    }
    return value.split(/\s+/).filter(function (item) { return item && item !== "'self'"; });
  }

  /* Does origin (scheme://host[:port]) match a pattern (exact, or scheme://*.domain[:port])? */
  function originMatches(origin, pattern) {
    if (typeof origin !== 'string' || !origin || origin === 'null') {
      return false;
    }
    pattern = pattern.replace(/\/+$/, '');
    if (origin === pattern) {
      return true;
    }
    var wildcard = /^(https?):\/\/\*\.([^/:]+)(:\d+)?$/.exec(pattern);
    var parsed = /^(https?):\/\/([^/:]+)(:\d+)?$/.exec(origin);
    if (!wildcard || !parsed || wildcard[1] !== parsed[1] || (wildcard[3] || '') !== (parsed[3] || '')) {
      return false;
    }
    var host = parsed[2].toLowerCase();
    var domain = wildcard[2].toLowerCase();
    return host.length > domain.length + 1 && host.slice(-(domain.length + 1)) === '.' + domain;
  }

  function originAllowed(origin, defaults) {
    var patterns = configuredOrigins() || defaults || [];
    return patterns.some(function (pattern) { return originMatches(origin, pattern); });
  }

  function normalizeRecord(record) {
    if (!record || typeof record !== 'object' || record.id === undefined || record.id === null || record.id === '') {
      return null;
    }
    return {
      crm: String(record.crm || ''),
      object: record.object ? String(record.object) : null,
      id: String(record.id)
    };
  }

  function recordKey(record) {
    return record ? record.crm + '/' + (record.object || '') + '/' + record.id : '';
  }

  /*
   * The one Bridge type; `impl` is the host's: {current(), subscribe(fire), pop(record),
   * saveLog(fields), resize(height)}, each returning a value or a Promise.
   */
  function Bridge(host, impl) {
    var listeners = [];
    var lastKey = null;
    var self = this;
    this.host = host;

    function changed(record) {
      record = normalizeRecord(record);
      var key = recordKey(record);
      if (key === lastKey) {
        return;
      }
      lastKey = key;
      listeners.slice().forEach(function (listener) {
        try {
          listener(record);
        } catch (error) {
          window.console && console.error('HubBridge: onRecordChange listener failed', error);
        }
      });
    }

    this.currentRecord = function () {
      return Promise.resolve(impl.current()).then(function (record) {
        record = normalizeRecord(record);
        if (lastKey === null) {
          lastKey = recordKey(record);
        }
        return record;
      });
    };
    this.onRecordChange = function (listener) {
      if (typeof listener !== 'function') {
        throw BridgeError('onRecordChange needs a function', 'argument');
      }
      listeners.push(listener);
      return function () {
        var index = listeners.indexOf(listener);
        if (index >= 0) {
          listeners.splice(index, 1);
        }
      };
    };
    this.pop = function (record) {
      if (!record || typeof record !== 'object' || !(record.id || record.search)) {
        return Promise.reject(BridgeError('pop needs {crm, object, id} or {search}', 'argument'));
      }
      return Promise.resolve().then(function () { return impl.pop(record); });
    };
    this.saveLog = function (fields) {
      if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
        return Promise.reject(BridgeError('saveLog needs an object of fields', 'argument'));
      }
      return Promise.resolve().then(function () { return impl.saveLog(fields); });
    };
    this.resize = function (height) {
      var pixels = Math.round(Number(height));
      if (!isFinite(pixels) || pixels <= 0) {
        return Promise.reject(BridgeError('resize needs a positive number of pixels', 'argument'));
      }
      return Promise.resolve().then(function () { return impl.resize(pixels); });
    };
    impl.subscribe(changed);
    Object.freeze(self);
  }

  var standalone = {
    current: function () { return null; },
    subscribe: function () {},
    pop: function () { return undefined; },
    saveLog: function () { return { saved: false, reason: 'no console host' }; },
    resize: function () { return undefined; }
  };

  var context = {
    protocol: PROTOCOL,
    base: base,
    loadScript: loadScript,
    originAllowed: originAllowed,
    originMatches: originMatches,
    normalizeRecord: normalizeRecord,
    BridgeError: BridgeError
  };

  var connections = {};

  function connect(host) {
    host = host || '';
    if (!host) {
      return Promise.resolve(new Bridge(null, standalone));
    }
    if (HOSTS.indexOf(host) < 0) {
      return Promise.reject(BridgeError('unknown console host ' + JSON.stringify(host), 'host'));
    }
    if (!connections[host]) {
      var ready = factories[host] ? Promise.resolve() : loadScript(base + 'bridge/' + host + '.js');
      connections[host] = ready.then(function () {
        if (!factories[host]) {
          throw BridgeError('bridge/' + host + '.js did not register the host', 'load');
        }
        return factories[host](context);
      }).then(function (impl) {
        return new Bridge(host, impl);
      });
      connections[host].catch(function () { delete connections[host]; });
    }
    return connections[host];
  }

  window.HubBridge = Object.freeze({
    version: PROTOCOL,
    connect: connect,
    register: function (name, factory) {
      if (HOSTS.indexOf(name) < 0 || typeof factory !== 'function') {
        throw BridgeError('cannot register host ' + JSON.stringify(name), 'host');
      }
      factories[name] = factory;
    },
    originMatches: originMatches
  });
})();
