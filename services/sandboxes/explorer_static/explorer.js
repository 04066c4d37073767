// The sandbox explorer page. It holds no data: it fetches GET /v1/sandboxes/{id}/explorer with the owner's API key,
// which the owner pastes once and which stays in this tab's sessionStorage. Everything from the chain is written
// with textContent, never as HTML.
'use strict';

(function () {
  const sandboxId = document.body.dataset.sandboxId;
  const storageKey = 'segell.explorer.apiKey';
  const refreshMs = 5000;
  let timer = null;

  const $ = (id) => document.getElementById(id);

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function fill(tableId, items, render) {
    const body = $(tableId).querySelector('tbody');
    body.replaceChildren();
    for (const item of items) {
      const row = document.createElement('tr');
      render(row, item);
      body.appendChild(row);
    }
  }

  function short(hash) {
    return hash ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : '';
  }

  function setStatus(message, isError) {
    $('status').textContent = message;
    $('status').className = isError ? 'error' : '';
  }

  function render(view) {
    const s = view.sandbox;
    $('summary').textContent =
      `${s.name} · ${s.backend} · chain id ${s.chain_id} · head block ${s.head_block} · owner account ${s.owner_account}`;
    fill('contracts', view.contracts, (row, c) => {
      cell(row, c.name);
      cell(row, c.origin);
      cell(row, c.address, 'hash');
      cell(row, c.block_number);
      cell(row, c.on_chain ? 'yes' : 'no (reset or reverted)', c.on_chain ? '' : 'gone');
    });
    fill('events', view.segell_events, (row, e) => {
      cell(row, e.block_number);
      cell(row, e.event || '(undecoded)');
      cell(row, Object.entries(e.args).map(([k, v]) => `${k}=${v}`).join(', '), 'args');
      cell(row, short(e.transaction_hash), 'hash').title = e.transaction_hash;
    });
    fill('transactions', view.transactions, (row, t) => {
      cell(row, t.block_number);
      cell(row, short(t.hash), 'hash').title = t.hash;
      cell(row, short(t.from), 'hash').title = t.from;
      const target = t.created ? `new ${t.contract || 'contract'} ${short(t.created)}` : `${t.contract || ''} ${short(t.to)}`;
      cell(row, target.trim());
      cell(row, t.function || '');
      cell(row, t.status, t.status === 'success' ? '' : 'reverted');
      cell(row, t.gas_used);
    });
    fill('blocks', view.blocks, (row, b) => {
      cell(row, b.number);
      cell(row, b.timestamp.replace('T', ' ').replace(/(\+00:00|Z)$/, ''));
      cell(row, b.transaction_count);
      cell(row, b.gas_used);
      cell(row, short(b.hash), 'hash').title = b.hash;
    });
  }

  function showForm(message) {
    stopRefresh();
    $('explorer').hidden = true;
    $('key-form-section').hidden = false;
    if (message) setStatus(message, true);
  }

  async function load() {
    const key = sessionStorage.getItem(storageKey);
    if (!key) {
      showForm('');
      return;
    }
    let response;
    try {
      response = await fetch(`/v1/sandboxes/${encodeURIComponent(sandboxId)}/explorer`, {
        headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (error) {
      setStatus(`Cannot reach the server (${error.message}); retrying.`, true);
      return;
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        sessionStorage.removeItem(storageKey);
        showForm(message);
      } else {
        stopRefresh();
        setStatus(message, true);
      }
      return;
    }
    $('key-form-section').hidden = true;
    $('explorer').hidden = false;
    render(body);
    setStatus(`Updated ${new Date().toLocaleTimeString()}.`, false);
  }

  function stopRefresh() {
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  function startRefresh() {
    stopRefresh();
    if ($('auto-refresh').checked) timer = setInterval(load, refreshMs);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('key-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const key = $('api-key').value.trim();
      $('api-key').value = '';
      if (!key) return;
      sessionStorage.setItem(storageKey, key);
      setStatus('Loading…', false);
      load().then(startRefresh);
    });
    $('refresh').addEventListener('click', load);
    $('auto-refresh').addEventListener('change', startRefresh);
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem(storageKey);
      showForm('');
      setStatus('The key is forgotten.', false);
    });
    load().then(() => {
      if (sessionStorage.getItem(storageKey)) startRefresh();
    });
  });
})();
