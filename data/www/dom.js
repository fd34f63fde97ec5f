/* dom.js: DOM and fetch helpers. */

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  if (attrs) for (const k in attrs) {
    if (k === 'class') e.className = attrs[k];
    else if (k === 'text') e.textContent = attrs[k];
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), attrs[k]);
    else e.setAttribute(k, attrs[k]);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}
export function setText(id, text, cls) {
  const e = $(id);
  if (e.textContent !== text) e.textContent = text;
  if (cls !== undefined) e.className = cls;
}
export function footLog(text) {
  const e = $('foot-log');
  e.textContent = text ? new Date().toLocaleTimeString() + ' ' + text : '';
}

/* GET a JSON document (or await the fetch `started` of it, e.g. early.js's);
 * throws an Error whose message is the server's
 * {"error"} text with the status, so callers can show it. */
export async function getJSON(path, started) {
  let r;
  try {
    r = await (started || fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } }));
  } catch (e) {
    throw new Error(`cannot reach batsim-httpd (${e.message}): is it running?`);
  }
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const err = new Error(`${path}: ${body && body.error ? body.error : r.statusText} (HTTP ${r.status})`);
    err.status = r.status;
    err.body = body;
    throw err;
  }
  return body;
}
