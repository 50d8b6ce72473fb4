// The one message line of the page: API errors in words, and short confirmations.

const box = () => document.getElementById("message");

export function showError(context, error) {
  const element = box();
  element.className = "";
  element.textContent = `${context}: ${error.message ?? error}`;
  element.hidden = false;
}

export function showOk(text) {
  const element = box();
  element.className = "ok";
  element.textContent = text;
  element.hidden = false;
}

export function clearMessage() {
  box().hidden = true;
  box().textContent = "";
}
