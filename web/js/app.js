// The router: one page at a time, chosen by the URL's hash, refreshed by polling the API.
import { watchToken } from './api.js';
import { errorBox } from './dom.js';
import { dagListPage } from './dag_list.js';
import { dagPage } from './dag_page.js';
import { runPage } from './run_page.js';
import { taskPage } from './task_page.js';
import { driftListPage, driftPage } from './drift_page.js';

const routes = [
  [/^#?\/?$/, () => dagListPage()],
  [/^#\/drift$/, () => driftListPage()],
  [/^#\/drift\/([^/]+)\/([^/]+)$/, (m) => driftPage(m[1], m[2])],
  [/^#\/dag\/([^/]+)\/run\/([^/]+)\/task\/([^/]+)$/, (m) => taskPage(m[1], m[2], m[3])],
  [/^#\/dag\/([^/]+)\/run\/([^/]+)$/, (m) => runPage(m[1], m[2])],
  [/^#\/dag\/([^/]+)(?:\/(grid|graph|source|trigger))?$/, (m) => dagPage(m[1], m[2] || 'grid')],
];

let timer = null;
let generation = 0;

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
    await render();
    if (page.every) timer = setInterval(render, page.every);
    return;
  }
  main.replaceChildren(errorBox(new Error('No such page: ' + hash)));
}

watchToken();
window.addEventListener('hashchange', show);
show();
