// The API token: kept in this tab's sessionStorage (gone when the tab closes, never in
// localStorage), asked for through the login form when the server answers 401 or refuses it.
const KEY = 'conveyor-token';
const el = (id) => document.getElementById(id);

let waiting = [];  // the writes waiting for a token: { resolve, reject }
const listeners = [];

export function savedToken() {
  return sessionStorage.getItem(KEY) || '';
}

// Drops the token this tab sent when the server said it is not valid, unless a newer one came.
export function forgetToken(sent) {
  if (sessionStorage.getItem(KEY) === sent) sessionStorage.removeItem(KEY);
  showSession();
}

// Called after each login and logout, e.g. to render the current view again.
export function onSessionChange(listener) {
  listeners.push(listener);
}

function showSession() {
  const hasToken = savedToken() !== '';
  el('logout').hidden = !hasToken;
  el('login-open').hidden = hasToken;
}

function openForm(reason) {
  const form = el('login');
  el('login-error').textContent = reason || '';  // the server's words, as text
  if (form.hidden) {
    form.hidden = false;
    el('login-token').value = '';
    el('login-token').focus();
  }
}

function closeForm() {
  el('login').hidden = true;
  el('login-error').textContent = '';
}

// Shows the login form; the promise resolves once a token is saved, and rejects when the form
// is cancelled.
export function askForToken(reason) {
  openForm(reason);
  return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
}

// Shows the login form without waiting for it (a read the server refused; the view renders again
// after the login).
export function offerLogin(reason) {
  openForm(reason);
}

export function setUpLogin() {
  // An earlier version kept the token in localStorage: it does not stay there.
  localStorage.removeItem(KEY);
  el('login').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = el('login-token').value.trim();
    if (!token) {
      el('login-error').textContent = 'The token is empty.';
      return;
    }
    sessionStorage.setItem(KEY, token);
    el('login-token').value = '';
    closeForm();
    showSession();
    const resumed = waiting;
    waiting = [];
    resumed.forEach((w) => w.resolve());
    listeners.forEach((listener) => listener());
  });
  el('login-cancel').addEventListener('click', () => {
    closeForm();
    const dropped = waiting;
    waiting = [];
    dropped.forEach((w) => w.reject(new Error('Not logged in: the change was not sent.')));
  });
  el('login-open').addEventListener('click', () => openForm(''));
  el('logout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showSession();
    listeners.forEach((listener) => listener());
  });
  showSession();
}
