// nfltr.js — small progressive enhancements shared by the app pages; every page works
// without it (curl, a browser with scripts off). Loaded as a file: the CSP forbids inline
// script.
'use strict';

// Sortable tables: a <table class="sortable"> whose header cells carry data-sort="text" or
// "number"; cells may carry data-value with the value to sort by (sizes in bytes, dates as
// seconds).
function nfltrSortTable(table, column, type, descending) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).filter((r) => !r.classList.contains('parent'));
  const parent = Array.from(body.rows).filter((r) => r.classList.contains('parent'));
  const key = (row) => {
    const cell = row.cells[column];
    const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
    return type === 'number' ? Number(raw) : raw.toLocaleLowerCase();
  };
  rows.sort((a, b) => {
    // Folders stay before files whatever the column.
    const fa = a.classList.contains('dir') ? 0 : 1;
    const fb = b.classList.contains('dir') ? 0 : 1;
    if (fa !== fb) return fa - fb;
    const ka = key(a), kb = key(b);
    const order = ka < kb ? -1 : ka > kb ? 1 : 0;
    return descending ? -order : order;
  });
  for (const r of parent.concat(rows)) body.appendChild(r);
}

document.addEventListener('DOMContentLoaded', () => {
  for (const table of document.querySelectorAll('table.sortable')) {
    const headers = table.tHead ? Array.from(table.tHead.rows[0].cells) : [];
    headers.forEach((th, column) => {
      if (!th.dataset.sort) return;
      const link = th.querySelector('a') || th;
      link.addEventListener('click', (event) => {
        event.preventDefault();
        const descending = th.getAttribute('aria-sort') === 'ascending';
        for (const other of headers) other.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
        nfltrSortTable(table, column, th.dataset.sort, descending);
      });
    });
  }
});
