// Shim of the 'lwc' module: enough of LightningElement for ctiHubPanel outside an org.
export class LightningElement {
  constructor() {
    this.template = { querySelector: (selector) => document.querySelector('#host ' + selector) };
  }
}
export function api() {}
export function wire() { return function () {}; }
