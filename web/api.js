// The admin API client. Who is calling is the browser's client certificate;
// every POST carries the anti-CSRF token handed out by GET /api/me and a JSON
// body (personal data goes only there, never in a URL).

let token = '';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.headers['X-CSRF-Token'] = token;
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = (data && data.error) || `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message);
  }
  return data;
}

export async function me() {
  const who = await call('GET', '/api/me');
  token = who.csrf_token;
  return who;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);
