// The REST API from the browser: JSON in and out, the tab's token on every request. A request the
// server refuses for want of a (valid) token opens the login form; a write is sent again once
// after the login.
import { savedToken, forgetToken, askForToken, offerLogin } from './login.js';

// Errors are RFC 7807 problems (application/problem+json); older servers sent application/json.
const isJson = (type) => /^application\/(problem\+)?json\b/i.test(type);

// 401: no token sent; 403 with this detail: the token sent is not the server's.
const needsToken = (status, detail) =>
  status === 401 || (status === 403 && /token is not valid/.test(detail));

export async function api(method, path, body, retried = false) {
  const write = method !== 'GET';
  const headers = { Accept: 'application/json' };
  // Every write is JSON, with or without a body: the server refuses other writes with 415.
  if (write || body !== undefined) headers['Content-Type'] = 'application/json';
  const token = savedToken();
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch('/api/v1' + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get('Content-Type') || '';
  const data = isJson(type) ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = data && data.detail ? data.detail : String(data);
    if (needsToken(response.status, detail)) {
      if (token) forgetToken(token);
      const reason = token ? detail : write ? 'This change needs the API token.'
        : 'This server needs the API token to show anything.';
      if (write && !retried) {
        await askForToken(reason);
        return api(method, path, body, true);
      }
      offerLogin(reason);
    }
    throw new Error(`${response.status} ${detail}`);
  }
  return data;
}

export const enc = encodeURIComponent;
