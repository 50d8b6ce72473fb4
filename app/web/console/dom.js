// The one way the console puts data on the page: elements built node by node, every string a
// text node. Store names, offer titles, addresses, attributes and error details come from other
// people and may look like HTML ("<img src=x onerror=...>"): they must show as those characters.
// So nothing here (or anywhere in the console) assigns innerHTML, and Leaflet tooltips and popups
// get an element, never a string (Leaflet parses a string content as HTML).

// el("li", { className: "x", dataset: { id } }, "text", child, ...): strings become text nodes.
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  const { className, dataset, ...rest } = props;
  if (className) element.className = className;
  Object.assign(element.dataset, dataset ?? {});
  for (const [name, value] of Object.entries(rest)) element.setAttribute(name, value);
  element.append(...children.filter((child) => child !== null && child !== undefined && child !== ""));
  return element;
}

// A string as a web address a link may point to, or null: only absolute http(s) addresses, so
// "javascript:...", "data:..." and relative paths never become a link.
export function webAddress(text) {
  if (typeof text !== "string" || !/^https?:\/\//i.test(text.trim())) return null;
  try {
    const url = new URL(text.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// A link to `text` when it is a web address (opened in a new tab, sending no referrer), else the
// text itself.
export function linkOrText(text) {
  const href = webAddress(text);
  if (!href) return String(text);
  return el("a", { href, target: "_blank", rel: "noopener noreferrer" }, text);
}
