// The participation pages: the citizen's session (a token the administration's app hands over in the address's
// fragment, kept in this tab only), supporting proposals, the budget ballot's running total and rule checks, casting
// it through the API, and the results chart. The server checks every ballot again; these checks only spare the
// citizen a refused one. Everything here talks to this server only.
(() => {
  'use strict';

  const STORE = 'segell_citizen_token';
  const texts = JSON.parse(document.getElementById('participation-texts').textContent);
  const main = document.querySelector('main');
  const locale = (main && main.dataset.numberLocale) || document.documentElement.lang;
  const money = new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR', maximumFractionDigits: 0 });
  const say = (key, values = {}) => Object.entries(values).reduce((text, [name, value]) => text.split(`{${name}}`).join(String(value)), texts[key]);

  // -- the session -------------------------------------------------------------------------------------------------

  function takeTokenFromAddress() {
    const match = /(?:^#|&)token=([A-Za-z0-9._-]+)/.exec(window.location.hash);
    if (!match) return;
    sessionStorage.setItem(STORE, match[1]);
    // The token leaves the address at once: it is not kept in the history nor shown.
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }

  function token() {
    return sessionStorage.getItem(STORE);
  }

  function showSession() {
    const box = document.querySelector('[data-session]');
    if (!box) return;
    box.textContent = '';
    const line = document.createElement('p');
    if (token()) {
      line.textContent = texts.signed_in + ' ';
      const out = document.createElement('button');
      out.type = 'button';
      out.className = 'link-button';
      out.textContent = texts.sign_out;
      out.addEventListener('click', () => {
        sessionStorage.removeItem(STORE);
        showSession();
      });
      line.append(out);
    } else {
      line.textContent = texts.signed_out;
    }
    box.append(line);
  }

  async function callApi(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token()}` },
      body: JSON.stringify(body),
    });
    let answer = null;
    try {
      answer = await response.json();
    } catch (error) {
      answer = null;
    }
    return { ok: response.ok, status: response.status, answer };
  }

  function errorText(result, fallbackKey) {
    const error = result.answer && result.answer.error;
    if (!error) return texts[fallbackKey];
    const details = Array.isArray(error.details) ? error.details.filter((item) => typeof item === 'string') : [];
    return [error.message, ...details].join(' ');
  }

  // -- supports ------------------------------------------------------------------------------------------------------

  function setUpSupports() {
    document.querySelectorAll('button[data-support]').forEach((button) => {
      button.addEventListener('click', async () => {
        const item = button.closest('[data-proposal]');
        const message = item.querySelector('[data-support-message]');
        if (!token()) {
          message.textContent = texts.need_login;
          return;
        }
        button.disabled = true;
        message.textContent = texts.supporting;
        const result = await callApi('POST', `/v1/participation/proposals/${button.dataset.support}/supports`, {
          version_hash: button.dataset.version,
        });
        if (result.ok) {
          item.querySelector('[data-support-count]').textContent = say('supports_count', { count: result.answer.supports });
          message.textContent = texts.supported;
          item.dataset.supported = 'true';
        } else {
          button.disabled = false;
          message.textContent = errorText(result, 'support_failed');
        }
      });
    });
  }

  // -- the budget ballot ---------------------------------------------------------------------------------------------

  function ballotProblems(chosen, rules) {
    const problems = [];
    const count = chosen.length;
    const total = chosen.reduce((sum, box) => sum + Number(box.dataset.cost), 0);
    if (count < rules.min_projects) problems.push(say('rule_min_projects', { count: rules.min_projects }));
    if (rules.max_projects !== null && count > rules.max_projects) problems.push(say('rule_max_projects', { count: rules.max_projects }));
    if (rules.budget_cap !== null && total > rules.budget_cap) problems.push(say('rule_budget_cap', { amount: money.format(rules.budget_cap) }));
    const perDistrict = new Map();
    chosen.forEach((box) => {
      if (box.dataset.district) perDistrict.set(box.dataset.district, (perDistrict.get(box.dataset.district) || 0) + 1);
    });
    if (rules.max_districts !== null && perDistrict.size > rules.max_districts) problems.push(say('rule_max_districts', { count: rules.max_districts }));
    perDistrict.forEach((number, district) => {
      if (rules.min_projects_per_district !== null && number < rules.min_projects_per_district) {
        problems.push(say('rule_min_per_district', { count: rules.min_projects_per_district, district }));
      }
      if (rules.max_projects_per_district !== null && number > rules.max_projects_per_district) {
        problems.push(say('rule_max_per_district', { count: rules.max_projects_per_district, district }));
      }
    });
    return { problems, total, count };
  }

  function showReceipt(form, receipt) {
    const section = document.getElementById('receipt');
    section.textContent = '';
    const heading = document.createElement('h2');
    heading.id = 'receipt-heading';
    heading.textContent = texts.receipt_heading;
    const list = document.createElement('dl');
    list.className = 'facts';
    [[texts.receipt_code, receipt.code, 'receipt-code'], [texts.receipt_commitment, receipt.commitment, 'receipt-commitment']].forEach(([name, value, id]) => {
      const term = document.createElement('dt');
      term.textContent = name;
      const detail = document.createElement('dd');
      const code = document.createElement('code');
      code.id = id;
      code.textContent = value;
      detail.append(code);
      list.append(term, detail);
    });
    const keep = document.createElement('p');
    keep.textContent = texts.receipt_keep + (receipt.replaced ? ` ${texts.replaced_note}` : '');
    const link = document.createElement('a');
    const url = new URL(form.dataset.checkUrl, window.location.href);
    url.searchParams.set('receipt', receipt.commitment);
    link.href = url.pathname + url.search;
    link.id = 'receipt-check';
    link.textContent = texts.receipt_check;
    section.append(heading, list, keep, link);
    section.hidden = false;
    section.focus();
  }

  function setUpBallot() {
    const form = document.getElementById('ballot');
    if (!form) return;
    const rules = JSON.parse(document.getElementById('ballot-rules').textContent);
    const boxes = Array.from(form.querySelectorAll('input[name="project"]'));
    const totalLine = document.getElementById('ballot-total');
    const problemList = document.getElementById('ballot-problems');
    const message = document.getElementById('ballot-message');

    function update() {
      message.textContent = '';
      const chosen = boxes.filter((box) => box.checked);
      const { problems, total, count } = ballotProblems(chosen, rules);
      let line = say('total_label', { total: money.format(total), count });
      if (rules.budget_cap !== null) line += ` ${say('remaining_label', { amount: money.format(rules.budget_cap - total) })}`;
      totalLine.textContent = line;
      problemList.textContent = '';
      problems.forEach((problem) => {
        const item = document.createElement('li');
        item.textContent = problem;
        problemList.append(item);
      });
      form.dataset.valid = problems.length ? 'false' : 'true';
      if (!problems.length && count) {
        const item = document.createElement('li');
        item.className = 'ok';
        item.textContent = texts.ballot_ok;
        problemList.append(item);
      }
      return problems;
    }

    boxes.forEach((box) => box.addEventListener('change', update));
    update();
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const problems = update();
      if (problems.length) {
        message.textContent = problems.join(' ');
        return;
      }
      if (!token()) {
        message.textContent = texts.need_login;
        return;
      }
      const button = document.getElementById('cast');
      button.disabled = true;
      message.textContent = texts.casting;
      const choices = boxes.filter((box) => box.checked).map((box) => box.value);
      const result = await callApi('POST', `/v1/participation/processes/${form.dataset.process}/ballots`, { choices });
      button.disabled = false;
      if (!result.ok) {
        message.textContent = errorText(result, 'cast_failed');
        return;
      }
      message.textContent = '';
      // Kept on this device too, so that "check my ballot" can fill it in after the close.
      localStorage.setItem(`segell_receipt_${form.dataset.process}`, result.answer.commitment);
      showReceipt(form, result.answer);
    });
  }

  function fillKeptReceipt() {
    const form = document.getElementById('check-form');
    if (!form) return;
    const input = form.querySelector('input[name="receipt"]');
    const kept = localStorage.getItem(`segell_receipt_${form.dataset.process}`);
    if (kept && !input.value) input.value = kept;
  }

  // -- results -------------------------------------------------------------------------------------------------------

  function drawResults() {
    if (typeof window.Chart !== 'function') return;
    document.querySelectorAll('canvas[data-votes-chart]').forEach((canvas) => {
      const spec = JSON.parse(document.getElementById(canvas.dataset.votesChart).textContent);
      canvas.parentElement.style.height = `${Math.max(240, spec.labels.length * 28 + 80)}px`;
      new window.Chart(canvas, {
        type: 'bar',
        data: {
          labels: spec.labels,
          datasets: [{
            label: spec.label,
            data: spec.votes,
            // Funded projects in green, the others in blue: both at least 3:1 against white (WCAG 1.4.11).
            backgroundColor: spec.funded.map((funded) => (funded ? '#1b6e2c' : '#0b4f8a')),
            borderWidth: 0,
          }],
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          indexAxis: 'y',
          locale,
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { legend: { display: false } },
        },
      });
    });
  }

  function start() {
    takeTokenFromAddress();
    showSession();
    setUpSupports();
    setUpBallot();
    fillKeptReceipt();
    drawResults();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
