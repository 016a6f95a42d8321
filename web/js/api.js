// The REST API from the browser: JSON in and out, the token from the header field for changes.
const tokenInput = () => document.getElementById('token');

export function savedToken() {
  return localStorage.getItem('conveyor-token') || '';
}

export function watchToken() {
  const input = tokenInput();
  input.value = savedToken();
  input.addEventListener('change', () => localStorage.setItem('conveyor-token', input.value));
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && savedToken()) headers.Authorization = 'Bearer ' + savedToken();
  const response = await fetch('/api/v1' + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = data && data.detail ? data.detail : String(data);
    throw new Error(`${response.status} ${detail}`);
  }
  return data;
}

export const enc = encodeURIComponent;
