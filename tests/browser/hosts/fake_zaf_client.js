// Stand-in for the ZAF SDK's ZAFClient. Records get/on/invoke with their arguments, checks them
// against the client API reference (get: a path or array of paths; invoke: a name and its
// arguments; resize: {width, height} strings; routeTo: a location and an id), and can fire events.
(function () {
  'use strict';
  var handlers = {};
  var state = {
    calls: [],
    violations: [],
    data: { 'ticket.id': 4242 },
    fire: function (name, data) {
      (handlers[name] || []).forEach(function (handler) { handler(data); });
    }
  };
  window.__zaf = state;

  var client = {
    get: function (path) {
      state.calls.push({ method: 'get', args: [path] });
      var paths = Array.isArray(path) ? path : [path];
      if (paths.some(function (item) { return typeof item !== 'string'; })) {
        state.violations.push('get: paths must be strings');
        return Promise.reject(new Error('The get method accepts a string or array of strings.'));
      }
      var result = { errors: {} };
      paths.forEach(function (item) { result[item] = state.data[item]; });
      return Promise.resolve(result);
    },
    on: function (name, handler) {
      state.calls.push({ method: 'on', args: [name] });
      if (typeof name !== 'string' || typeof handler !== 'function') {
        state.violations.push('on: needs an event name and a handler');
        return;
      }
      (handlers[name] = handlers[name] || []).push(handler);
    },
    invoke: function (name) {
      var args = Array.prototype.slice.call(arguments, 1);
      state.calls.push({ method: 'invoke', args: [name].concat(JSON.parse(JSON.stringify(args))) });
      if (name === 'resize') {
        var size = args[0];
        if (!size || typeof size.height !== 'string' || (size.width !== undefined && typeof size.width !== 'string')) {
          state.violations.push('resize: needs {width, height} as CSS strings');
        }
      } else if (name === 'routeTo') {
        if (['ticket', 'user', 'nav_bar', 'top_bar'].indexOf(args[0]) < 0 || args.length < 2) {
          state.violations.push('routeTo: needs a location (ticket, user, ...) and an id');
        }
      }
      var result = { errors: {} };
      result[name] = null;
      return Promise.resolve(result);
    },
    context: function () {
      return Promise.resolve({ product: 'support', location: 'ticket_sidebar', ticketId: state.data['ticket.id'] });
    }
  };
  window.ZAFClient = { init: function () { return client; } };
})();
