// Shim of 'lightning/navigation': records each Navigate call with its page reference.
export const CurrentPageReference = Symbol('CurrentPageReference');
const Navigate = Symbol('Navigate');
export function NavigationMixin(Base) {
  return class extends Base {
    [Navigate](pageReference, replace) {
      (window.__lwcCalls = window.__lwcCalls || []).push(
        { call: 'navigate', pageReference: JSON.parse(JSON.stringify(pageReference)), replace: !!replace });
    }
  };
}
NavigationMixin.Navigate = Navigate;
