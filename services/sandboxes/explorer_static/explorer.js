// The sandbox explorer page. It holds no data: it fetches the JSON under GET /v1/sandboxes/{id}/explorer with the
// owner's API key, which the owner pastes once and which stays in this tab's sessionStorage. The page's path after
// /sandboxes/{id}/explorer names the view (a block, a transaction, an address, or the overview), and is the same
// path after the API's. Everything from the chain is written with textContent, never as HTML.
'use strict';

(function () {
  const sandboxId = document.body.dataset.sandboxId;
  const storageKey = 'segell.explorer.apiKey';
  const refreshMs = 5000;
  const pageBase = `/sandboxes/${encodeURIComponent(sandboxId)}/explorer`;
  const apiBase = `/v1/sandboxes/${encodeURIComponent(sandboxId)}/explorer`;
  const chartBlocks = 100;
  const charts = {};
  let timer = null;

  const $ = (id) => document.getElementById(id);

  // -- which view ---------------------------------------------------------------------------------------------------

  function currentView() {
    const rest = decodeURIComponent(location.pathname.slice(pageBase.length)).replace(/\/$/, '');
    let match = rest.match(/^\/blocks\/(\d+)$/);
    if (match) return { kind: 'block', id: match[1], path: rest };
    match = rest.match(/^\/transactions\/(0x[0-9a-fA-F]{64})$/);
    if (match) return { kind: 'transaction', id: match[1], path: rest };
    match = rest.match(/^\/addresses\/(0x[0-9a-fA-F]{40})$/);
    if (match) return { kind: 'address', id: match[1], path: rest };
    return { kind: 'overview', path: '' };
  }

  const view = currentView();
  const blockHref = (number) => `${pageBase}/blocks/${number}`;
  const transactionHref = (hash) => `${pageBase}/transactions/${hash}`;
  const addressHref = (address) => `${pageBase}/addresses/${address}`;

  // -- writing the page ---------------------------------------------------------------------------------------------

  function short(hash) {
    return hash ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : '';
  }

  function text(value) {
    if (value === null || value === undefined) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }

  function link(href, label, title) {
    const a = document.createElement('a');
    a.href = href;
    a.textContent = label;
    if (title) a.title = title;
    return a;
  }

  function blockLink(number) {
    return link(blockHref(number), String(number), `Block ${number}`);
  }

  function transactionLink(hash, full) {
    return link(transactionHref(hash), full ? hash : short(hash), hash);
  }

  function addressLink(address, name, full) {
    const shown = full ? address : short(address);
    return link(addressHref(address), name ? `${name} ${shown}` : shown, address);
  }

  function cell(row, content, className) {
    const td = document.createElement('td');
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = text(content);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function fill(tableId, items, render, empty) {
    const body = $(tableId).querySelector('tbody');
    body.replaceChildren();
    for (const item of items) {
      const row = document.createElement('tr');
      render(row, item);
      body.appendChild(row);
    }
    if (!items.length && empty) {
      const row = document.createElement('tr');
      const td = cell(row, empty, 'muted');
      td.colSpan = $(tableId).querySelectorAll('thead th').length;
      body.appendChild(row);
    }
  }

  function fields(listId, entries) {
    const list = $(listId);
    list.replaceChildren();
    for (const [name, value] of entries) {
      if (value === undefined) continue;
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      if (value instanceof Node) dd.appendChild(value);
      else dd.textContent = text(value);
      list.append(dt, dd);
    }
  }

  function group(...nodes) {
    const span = document.createElement('span');
    for (const node of nodes) span.append(node instanceof Node ? node : document.createTextNode(text(node)));
    return span;
  }

  function ether(wei) {
    const amount = BigInt(wei);
    const unit = 10n ** 18n;
    const fraction = (amount % unit).toString().padStart(18, '0').replace(/0+$/, '');
    return `${amount / unit}${fraction ? `.${fraction}` : ''} ETH`;
  }

  function args(values) {
    return Object.entries(values || {}).map(([k, v]) => `${k}=${text(v)}`).join(', ');
  }

  function time(timestamp) {
    return timestamp.replace('T', ' ').replace(/(\+00:00|Z)$/, '');
  }

  function setStatus(message, isError) {
    $('status').textContent = message;
    $('status').className = isError ? 'error' : '';
  }

  function setTitle(heading, title) {
    $('title').textContent = heading;
    document.title = `${title} · sandbox ${sandboxId} · Segell explorer`;
  }

  function transactionRow(row, t, withBlock) {
    if (withBlock) cell(row, blockLink(t.block_number));
    cell(row, transactionLink(t.hash), 'hash');
    cell(row, addressLink(t.from), 'hash');
    if (t.created) cell(row, group('new ', addressLink(t.created, t.contract || 'contract')));
    else cell(row, t.to ? addressLink(t.to, t.contract) : '');
    cell(row, t.function || '');
    cell(row, t.status, t.status === 'success' ? '' : 'reverted');
    cell(row, t.gas_used);
  }

  function eventCells(row, e) {
    cell(row, e.event || '(undecoded)');
    cell(row, e.event ? args(e.args) : `topics ${e.topics.join(' ')} data ${e.data}`, 'args');
  }

  // -- the views ----------------------------------------------------------------------------------------------------

  function renderOverview(data) {
    const s = data.sandbox;
    setTitle(`Sandbox ${s.name}`, 'Overview');
    $('summary').textContent =
      `${s.name} · ${s.backend} · chain id ${s.chain_id} · head block ${s.head_block}`;
    fill('contracts', data.contracts, (row, c) => {
      cell(row, c.name);
      cell(row, c.verification ? `${c.origin} (${c.verification} match)` : c.origin);
      cell(row, addressLink(c.address, null, true), 'hash');
      cell(row, c.block_number === null ? '' : blockLink(c.block_number));
      cell(row, c.on_chain ? 'yes' : 'no (reset or reverted)', c.on_chain ? '' : 'gone');
    });
    fill('events', data.events, (row, e) => {
      cell(row, blockLink(e.block_number));
      cell(row, addressLink(e.address, e.contract), 'hash');
      eventCells(row, e);
      cell(row, transactionLink(e.transaction_hash), 'hash');
    }, 'No events yet.');
    fill('transactions', data.transactions, (row, t) => transactionRow(row, t, true), 'No transactions yet.');
    fill('blocks', data.blocks, (row, b) => {
      cell(row, blockLink(b.number));
      cell(row, time(b.timestamp));
      cell(row, b.transaction_count);
      cell(row, b.gas_used);
      cell(row, short(b.hash), 'hash').title = b.hash;
    });
  }

  function drawChart(id, labels, values, label, colour) {
    const canvas = $(id);
    if (charts[id]) {
      charts[id].data.labels = labels;
      charts[id].data.datasets[0].data = values;
      charts[id].update('none');
      return;
    }
    charts[id] = new window.Chart(canvas, {
      type: 'bar',
      data: { labels, datasets: [{ label, data: values, backgroundColor: colour, borderColor: colour }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { title: { display: true, text: 'block', color: '#3d4550' }, ticks: { color: '#3d4550' } },
          y: { beginAtZero: true, ticks: { precision: 0, color: '#3d4550' } },
        },
        onClick: (event, elements) => {
          if (elements.length) location.assign(blockHref(charts[id].data.labels[elements[0].index]));
        },
      },
    });
  }

  function renderActivity(activity) {
    const points = activity.blocks;
    $('activity-range').textContent = `blocks ${activity.from_block} to ${activity.to_block}`;
    const transactions = points.map((p) => p.transaction_count);
    const gas = points.map((p) => p.gas_used);
    const total = (values) => values.reduce((a, b) => a + b, 0);
    $('tx-chart-summary').textContent =
      `${total(transactions)} transactions in ${points.length} blocks; at most ${Math.max(0, ...transactions)} in one.`;
    $('gas-chart-summary').textContent =
      `${total(gas)} gas used in ${points.length} blocks; at most ${Math.max(0, ...gas)} in one.`;
    if (typeof window.Chart !== 'function') return false;
    const labels = points.map((p) => p.number);
    drawChart('tx-chart', labels, transactions, 'transactions', '#1f5fbf');
    drawChart('gas-chart', labels, gas, 'gas used', '#8a4b08');
    return true;
  }

  function renderBlock(b) {
    setTitle(`Block ${b.number}`, `Block ${b.number}`);
    $('summary').textContent = `head block ${b.head_block}`;
    const previous = $('previous-block');
    const next = $('next-block');
    previous.hidden = b.number === 0;
    previous.href = blockHref(b.number - 1);
    next.hidden = b.number >= b.head_block;
    next.href = blockHref(b.number + 1);
    fields('block-fields', [
      ['number', b.number],
      ['hash', b.hash],
      ['parent', b.number > 0 ? link(blockHref(b.number - 1), b.parent_hash) : b.parent_hash],
      ['time (UTC)', time(b.timestamp)],
      ['transactions', b.transaction_count],
      ['gas used', `${b.gas_used} of ${b.gas_limit}`],
      ['base fee', b.base_fee_per_gas === null ? 'none' : `${b.base_fee_per_gas} wei`],
      ['miner', addressLink(b.miner, null, true)],
    ]);
    fill('block-transactions', b.transactions, (row, t) => transactionRow(row, t, false), 'No transactions.');
  }

  function renderTransaction(t) {
    setTitle(`Transaction ${short(t.hash)}`, `Transaction ${short(t.hash)}`);
    $('summary').textContent = `head block ${t.head_block}`;
    const target = t.created
      ? ['created', addressLink(t.created, t.contract, true)]
      : ['to', addressLink(t.to, t.contract, true)];
    fields('transaction-fields', [
      ['hash', t.hash],
      ['status', t.status],
      ['block', group(blockLink(t.block_number), ` (position ${t.transaction_index}, ${t.head_block - t.block_number} blocks since)`)],
      ['time (UTC)', time(t.timestamp)],
      ['from', addressLink(t.from, null, true)],
      target,
      ['function', t.decoded_input ? t.decoded_input.function : undefined],
      ['value', `${ether(t.value)} (${t.value} wei)`],
      ['nonce', t.nonce],
      ['gas used', `${t.gas_used} of ${t.gas_limit}`],
      ['gas price', `${t.gas_price} wei`],
      ['fee', `${ether(t.fee)} (${t.fee} wei)`],
    ]);
    const decoded = t.decoded_input;
    $('input-function').textContent = decoded
      ? `${decoded.function}${decoded.arguments ? '' : ': the arguments do not decode with its ABI'}`
      : (t.created ? 'Contract creation code.' : 'Not decoded: the contract called is not one Segell knows.');
    $('input-arguments').hidden = !(decoded && decoded.arguments && decoded.arguments.length);
    fill('input-arguments', decoded && decoded.arguments ? decoded.arguments : [], (row, a) => {
      cell(row, a.name);
      cell(row, a.type);
      cell(row, a.type === 'address' ? addressLink(a.value, null, true) : text(a.value), 'args');
    });
    $('raw-input').textContent = t.input;
    fill('logs', t.logs, (row, e) => {
      cell(row, e.log_index);
      cell(row, addressLink(e.address, e.contract), 'hash');
      eventCells(row, e);
    }, 'No logs.');
  }

  function renderAddress(a) {
    setTitle(`${a.kind === 'contract' ? 'Contract' : 'Account'} ${short(a.address)}`, `Address ${short(a.address)}`);
    $('summary').textContent = `head block ${a.head_block}`;
    const c = a.contract;
    fields('address-fields', [
      ['address', a.address],
      ['kind', a.kind],
      ['is', a.label || undefined],
      ['balance', `${ether(a.balance)} (${a.balance} wei)`],
      ['nonce', a.nonce],
      ['code', a.kind === 'contract' ? `${a.code_size} bytes` : undefined],
      ['contract', c ? `${c.source_unit || c.name}, ${c.origin}${c.verification ? ` (${c.verification} match)` : ''}` : undefined],
      ['deployed in', c && c.transaction_hash ? transactionLink(c.transaction_hash, true) : undefined],
      ['not known', a.kind === 'contract' && !c
        ? 'Segell has no ABI for it: register it with its sources (segell contract register) to decode it.'
        : undefined],
    ]);
    $('address-window').textContent = `since block ${a.searched_from_block}`;
    fill('address-transactions', a.transactions, (row, t) => transactionRow(row, t, true), 'None in these blocks.');
    fill('address-events', a.events, (row, e) => {
      cell(row, blockLink(e.block_number));
      eventCells(row, e);
      cell(row, transactionLink(e.transaction_hash), 'hash');
    }, 'None.');
  }

  // -- fetching -----------------------------------------------------------------------------------------------------

  function showForm(message) {
    stopRefresh();
    $('explorer').hidden = true;
    $('tools').hidden = true;
    $('key-form-section').hidden = false;
    if (message) setStatus(message, true);
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body && body.error ? body.error.message : `HTTP ${status}`);
      this.status = status;
      this.code = body && body.error ? body.error.code : null;
    }
  }

  async function fetchJson(path, key) {
    const response = await fetch(apiBase + path, {
      headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  async function load() {
    const key = sessionStorage.getItem(storageKey);
    if (!key) {
      showForm('');
      return;
    }
    let data;
    let activity = null;
    try {
      if (view.kind === 'overview') {
        [data, activity] = await Promise.all([
          fetchJson('', key),
          fetchJson(`/activity?blocks=${chartBlocks}`, key),
        ]);
      } else {
        data = await fetchJson(view.path, key);
      }
    } catch (error) {
      if (!(error instanceof ApiError)) {
        setStatus(`Cannot reach the server (${error.message}); retrying.`, true);
        return;
      }
      // The key is wrong for this sandbox: ask again. A block or transaction that is not there keeps the key.
      if (error.status === 401 || error.status === 403 || (error.status === 404 && error.code === 'not_found')) {
        sessionStorage.removeItem(storageKey);
        showForm(error.message);
      } else {
        stopRefresh();
        $('key-form-section').hidden = true;
        $('tools').hidden = false;
        setStatus(error.message, true);
      }
      return;
    }
    $('key-form-section').hidden = true;
    $('tools').hidden = false;
    $('explorer').hidden = false;
    for (const id of ['overview', 'block-view', 'transaction-view', 'address-view']) $(id).hidden = true;
    let charted = true;
    if (view.kind === 'overview') {
      $('overview').hidden = false;
      renderOverview(data);
      charted = renderActivity(activity);
    } else {
      $(`${view.kind}-view`).hidden = false;
      ({ block: renderBlock, transaction: renderTransaction, address: renderAddress })[view.kind](data);
    }
    if (charted) setStatus(`Updated ${new Date().toLocaleTimeString()}.`, false);
    else setStatus('The charts could not be drawn: the charting library did not load.', true);
  }

  function stopRefresh() {
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  function startRefresh() {
    stopRefresh();
    if (view.kind === 'overview' && $('auto-refresh').checked) timer = setInterval(load, refreshMs);
  }

  function search(event) {
    event.preventDefault();
    const wanted = $('search-input').value.trim();
    if (/^\d+$/.test(wanted)) location.assign(blockHref(wanted));
    else if (/^0x[0-9a-fA-F]{64}$/.test(wanted)) location.assign(transactionHref(wanted));
    else if (/^0x[0-9a-fA-F]{40}$/.test(wanted)) location.assign(addressHref(wanted));
    else setStatus('Type a block number, a transaction hash (0x and 64 hex digits) or an address (0x and 40).', true);
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
    $('search').addEventListener('submit', search);
    $('refresh').addEventListener('click', load);
    $('auto-refresh').addEventListener('change', startRefresh);
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem(storageKey);
      showForm('');
      setStatus('The key is forgotten.', false);
      $('api-key').focus();
    });
    load().then(() => {
      if (sessionStorage.getItem(storageKey)) startRefresh();
    });
  });
})();
