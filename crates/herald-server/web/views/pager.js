// A cursor-paginated list with a "Load more" button (`{data, next_cursor}` pages).

import { h, fill, errorBox } from '../dom.js';

/** fetchPage(cursor) → page; render(rows) → node. `reload()` refetches the first page. */
export function pager(fetchPage, render) {
  let rows = [];
  let next = null;
  let pages = 0;
  const body = h('div');
  const more = h('button', { type: 'button', class: 'more', onclick: () => load(next) }, 'Load more');
  const node = h('div', { class: 'pager' }, body, more);

  function draw() {
    fill(body, render(rows));
    more.hidden = !next;
  }

  async function load(cursor) {
    more.disabled = true;
    try {
      const page = await fetchPage(cursor || undefined);
      rows = cursor ? rows.concat(page.data) : page.data;
      next = page.next_cursor;
      pages = cursor ? pages + 1 : 1;
      draw();
    } catch (e) {
      fill(body, errorBox(e));
      throw e;
    } finally {
      more.disabled = false;
    }
  }

  return {
    node,
    load: () => load(null),
    /** Live refresh: only while the first page alone is shown, so nothing jumps away. */
    async refresh() {
      if (pages > 1) return;
      await load(null).catch(() => {});
    },
  };
}
