// The owner key of this browser (localStorage), shared by the merchant view, its events and
// webhooks, and the cashier page; listeners hear when it is set or forgotten.

const KEY = "nearby.ownerKey";
const listeners = [];

export const ownerKey = () => localStorage.getItem(KEY);

export function setOwnerKey(key) {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
  for (const listener of listeners) listener(ownerKey());
}

// listener(key or null) after every change.
export function onOwnerKeyChange(listener) {
  listeners.push(listener);
}
