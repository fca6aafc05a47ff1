// DOM building and the API client. Every piece of text goes into the page as a text node:
// nothing here (or anywhere in the console) assigns HTML from strings, so a complaint titled
// `<img src=x onerror=alert(1)>` shows as those characters.

/** The element `tag` with attributes/properties and children (strings become text nodes). */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      element.className = value;
    } else if (key === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (key in element && typeof value !== 'string') {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `element`. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

function meta(name) {
  const element = document.querySelector(`meta[name="${name}"]`);
  return element ? element.content : '';
}

/** The signed-in account, as the server wrote it into the page. */
export const me = JSON.parse(meta('gs-user') || '{}');

const csrf = meta('csrf-token');

/** An error the API answered (problem+json), with its stable code. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || 'http_' + status;
    this.problem = problem;
  }
}

/**
 * Calls the API with the session cookie; state changes carry the CSRF token. A 401 (the session
 * ended, or was revoked) goes back to the login page.
 */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  // A file goes as its bytes; anything else as JSON.
  const raw = body instanceof Blob;
  if (body !== undefined) headers['Content-Type'] = raw ? 'application/octet-stream' : 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined || raw ? body : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign('/console/login');
    throw new ApiError(401, { detail: '登录已过期' });
  }
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === 'object' ? data : {});
  return data;
}

/** Uploads a file whole; the server names it by its sha256, which this returns. */
export async function upload(file) {
  const blob = await api('POST', '/api/v1/blobs', file);
  return blob.sha256;
}

// Times are shown in China Standard Time, whatever zone the browser's machine is set to: the
// deadlines, the reports' months and the timeline's notes are all counted in CST.
const CST = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai', hourCycle: 'h23',
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
});

function cstParts(ms) {
  return Object.fromEntries(CST.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
}

/** Unix milliseconds (the API's times) as a CST date and time: 2026-12-07 15:04. */
export function when(ms) {
  if (ms === null || ms === undefined) return '';
  const p = cstParts(ms);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** This month in CST, as the reports name it (2026-12). */
export function thisMonth() {
  const p = cstParts(Date.now());
  return `${p.year}-${p.month}`;
}

/** What is left until a deadline (Unix milliseconds), or how long it is overdue. */
export function countdown(deadline, now = Date.now()) {
  if (deadline === null || deadline === undefined) return { text: '', overdue: false };
  const left = (deadline - now) / 1000;
  const span = Math.abs(left);
  const days = Math.floor(span / 86400);
  const hours = Math.floor((span % 86400) / 3600);
  const minutes = Math.floor((span % 3600) / 60);
  const text = days > 0 ? `${days}天${hours}小时` : hours > 0 ? `${hours}小时${minutes}分` : `${minutes}分钟`;
  return left >= 0 ? { text: `剩余 ${text}`, overdue: false } : { text: `超期 ${text}`, overdue: true };
}

const cache = new Map();

/** A GET whose answer does not change while the page is open (catalogues), asked once. */
export function cached(path) {
  if (!cache.has(path)) cache.set(path, api('GET', path).catch((e) => { cache.delete(path); throw e; }));
  return cache.get(path);
}

/** Names by code: departments and categories, for showing codes as words. */
export async function names() {
  const [departments, categories] = await Promise.all([
    cached('/api/v1/departments').catch(() => ({ departments: [] })),
    cached('/api/v1/categories').catch(() => ({ categories: [] })),
  ]);
  return {
    department: Object.fromEntries(departments.departments.map((d) => [d.code, d.name])),
    category: Object.fromEntries((categories.categories || []).map((c) => [c.code, c.name])),
  };
}
