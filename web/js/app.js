// The router: one page at a time, chosen by the URL's hash, refreshed by polling the API.
import { setUpLogin, onSessionChange } from './login.js';
import { errorBox } from './dom.js';
import { dagListPage } from './dag_list.js';
import { dagPage } from './dag_page.js';
import { runPage } from './run_page.js';
import { taskPage } from './task_page.js';
import { driftListPage, driftPage } from './drift_page.js';
import { modelListPage, modelPage } from './model_page.js';

const routes = [
  [/^#?\/?$/, () => dagListPage()],
  [/^#\/drift$/, () => driftListPage()],
  [/^#\/models$/, () => modelListPage()],
  [/^#\/model\/([^/]+)$/, (m) => modelPage(m[1])],
  [/^#\/drift\/([^/]+)\/([^/]+)$/, (m) => driftPage(m[1], m[2])],
  [/^#\/dag\/([^/]+)\/run\/([^/]+)\/task\/([^/]+)$/, (m) => taskPage(m[1], m[2], m[3])],
  [/^#\/dag\/([^/]+)\/run\/([^/]+)$/, (m) => runPage(m[1], m[2])],
  [/^#\/dag\/([^/]+)(?:\/(grid|graph|source|trigger))?$/, (m) => dagPage(m[1], m[2] || 'grid')],
];

let timer = null;
let generation = 0;
let current = null;  // the shown page's render

async function show() {
  clearInterval(timer);
  const mine = ++generation;
  const main = document.getElementById('main');
  const hash = location.hash;
  for (const [pattern, make] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    const page = make(match.map((v, i) => (i === 0 || v === undefined ? v : decodeURIComponent(v))));
    const render = async () => {
      try {
        const content = await page.render();
        // Pages keep their root element, so inputs keep focus across refreshes.
        if (mine === generation && content && main.firstChild !== content) {
          main.replaceChildren(content);
        }
      } catch (error) {
        if (mine === generation) main.replaceChildren(errorBox(error));
      }
    };
    current = render;
    await render();
    if (page.every) timer = setInterval(render, page.every);
    return;
  }
  current = null;
  main.replaceChildren(errorBox(new Error('No such page: ' + hash)));
}

setUpLogin();
// Logged in or out: the current page renders again (keeping what was typed into it).
onSessionChange(() => { if (current) current(); });
window.addEventListener('hashchange', show);
show();
