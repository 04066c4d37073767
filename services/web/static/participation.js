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
  // A sentence about one thing has a text of its own (`<key>_one`) where the language needs it.
  const pick = (key, values) => (values.count === 1 && texts[`${key}_one`] !== undefined ? texts[`${key}_one`] : texts[key]);
  const say = (key, values = {}) => Object.entries(values).reduce((text, [name, value]) => text.split(`{${name}}`).join(String(value)), pick(key, values));

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
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token()}` },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, status: 0, answer: null };
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (error) {
      answer = null;
    }
    return { ok: response.ok, status: response.status, answer };
  }

  // What went wrong, in the page's language: the API's error code said as the page says it (its message is in
  // English only).
  function errorText(result, fallbackKey) {
    const code = result.answer && result.answer.error && result.answer.error.code;
    if (code && texts[`error_${code}`]) return texts[`error_${code}`];
    if (result.status === 401) return texts.error_unauthenticated;
    if (result.status === 0) return texts.error_network;
    return texts[fallbackKey];
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
          // The support went to the version shown: its own count grows by one.
          const ofVersion = item.querySelector('[data-version-count]');
          if (ofVersion) {
            ofVersion.dataset.versionCount = String(Number(ofVersion.dataset.versionCount) + 1);
            ofVersion.textContent = say('supports_of_version', { count: Number(ofVersion.dataset.versionCount) });
          }
          message.textContent = texts.supported;
          item.dataset.supported = 'true';
        } else {
          button.disabled = false;
          message.textContent = errorText(result, 'support_failed');
        }
      });
    });
  }

  // -- a new proposal ------------------------------------------------------------------------------------------------

  function setUpProposing() {
    const form = document.getElementById('propose');
    if (!form) return;
    const message = document.getElementById('propose-message');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!token()) {
        message.textContent = texts.need_login;
        return;
      }
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      message.textContent = texts.proposing;
      const body = { title: form.elements.title.value.trim(), body: form.elements.body.value.trim(), language: form.dataset.language };
      if (form.elements.service && form.elements.service.value) body.service = form.elements.service.value;
      const result = await callApi('POST', `/v1/participation/processes/${form.dataset.process}/proposals`, body);
      button.disabled = false;
      if (!result.ok) {
        message.textContent = errorText(result, 'propose_failed');
        return;
      }
      form.reset();
      message.textContent = `${say('proposed', { code: result.answer.verification_code })} `;
      const link = document.createElement('a');
      link.href = form.dataset.newest;
      link.id = 'proposed-link';
      link.textContent = texts.propose_see;
      message.append(link);
    });
  }

  // -- the budget ballot ---------------------------------------------------------------------------------------------

  // The same rules as the server's (services/participation/tally.py check_choices); a challenge's options are
  // proposals, with no cost nor district, so only the count rules bite there.
  function ballotProblems(chosen, rules, kind) {
    const problems = [];
    const count = chosen.length;
    const total = chosen.reduce((sum, box) => sum + Number(box.dataset.cost || 0), 0);
    const [fewest, most] = kind === 'challenge' ? ['rule_min_choices', 'rule_max_choices'] : ['rule_min_projects', 'rule_max_projects'];
    if (count < rules.min_projects) problems.push(say(fewest, { count: rules.min_projects }));
    if (rules.max_projects !== null && count > rules.max_projects) problems.push(say(most, { count: rules.max_projects }));
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
    const kind = form.dataset.kind;
    const boxes = Array.from(form.querySelectorAll('input[name="choice"]'));
    const totalLine = document.getElementById('ballot-total');
    const problemList = document.getElementById('ballot-problems');
    const message = document.getElementById('ballot-message');

    function update() {
      message.textContent = '';
      const chosen = boxes.filter((box) => box.checked);
      const { problems, total, count } = ballotProblems(chosen, rules, kind);
      let line = kind === 'challenge' ? say('total_label_challenge', { count }) : say('total_label', { total: money.format(total), count });
      if (kind !== 'challenge' && rules.budget_cap !== null) line += ` ${say('remaining_label', { amount: money.format(rules.budget_cap - total) })}`;
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


  // -- check my ballot, in this browser ------------------------------------------------------------------------------
  // Nothing here is taken on the server's word: the ballot's record is hashed to the receipt, its leaf and proof are
  // hashed up to the ballots' root, that root's notarisation proof up to its batch root, and the chain is asked, at
  // the deployment's own Notary, whether it holds that batch root. Each step is shown with what it found, and the
  // check stops at the first that fails.

  const hashes = window.segellHashes;
  const RETRY_MS = 2000;
  const RETRIES = 30;

  async function getJson(url, options = {}) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: 'application/json' }, ...options });
    } catch (error) {
      return { ok: false, status: 0, body: null };
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    return { ok: response.ok, status: response.status, body };
  }

  // A step found something wrong (shown with the step), or the check could not go on (a request failed).
  class StepFailed extends Error {}
  class CheckStopped extends Error {}

  async function rpc(calls) {
    const request = calls.map(([method, params], id) => ({ jsonrpc: '2.0', id, method, params }));
    const answer = await getJson('/rpc', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request) });
    if (!answer.ok || !Array.isArray(answer.body)) throw new CheckStopped(`/rpc: HTTP ${answer.status}`);
    return calls.map((_, id) => {
      const reply = answer.body.find((item) => item && item.id === id);
      if (!reply || reply.error || typeof reply.result !== 'string') throw new CheckStopped(`/rpc: ${reply && reply.error ? reply.error.message : 'no answer'}`);
      return reply.result;
    });
  }

  const utf8 = (text) => new TextEncoder().encode(text);
  const selector = (signature) => hashes.toHex(hashes.keccak256(utf8(signature)).slice(0, 4));
  const word = (bigint) => bigint.toString(16).padStart(64, '0');

  function compareBytes(a, b) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }

  // OpenZeppelin's MerkleProof: each pair hashed in byte order.
  function hashUp(leaf, proof) {
    return proof.reduce((node, sibling) => {
      const other = hashes.fromHex(sibling);
      const [low, high] = compareBytes(node, other) <= 0 ? [node, other] : [other, node];
      return hashes.keccak256(hashes.concat(low, high));
    }, leaf);
  }

  // In a tree stored as 2n-1 nodes, leaf k sits at 2n-2-k and its proof has floor(log2(i+1)) siblings.
  function proofLength(index, size) {
    let steps = 0;
    for (let node = 2 * size - 2 - index + 1; node > 1; node = Math.floor(node / 2)) steps += 1;
    return steps;
  }

  const doubleKeccak = (bytes) => hashes.keccak256(hashes.keccak256(bytes));
  const isHex32 = (text) => typeof text === 'string' && /^(0x)?[0-9a-f]{64}$/i.test(text);
  const bare = (text) => text.toLowerCase().replace(/^0x/, '');

  function shortCode(commitment) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const bits = [...hashes.fromHex(commitment).slice(0, 7)].map((byte) => byte.toString(2).padStart(8, '0')).join('');
    const letters = Array.from({ length: 10 }, (_, i) => alphabet[parseInt(bits.slice(5 * i, 5 * i + 5), 2)]).join('');
    return `${letters.slice(0, 5)}-${letters.slice(5)}`;
  }

  function administrationCode(bytes32) {
    const bytes = hashes.fromHex(bytes32);
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end -= 1;
    return String.fromCharCode(...bytes.slice(0, end));
  }

  const moment = (seconds) => `${new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(seconds * 1000))} UTC`;

  async function checkBallot(section, receipt) {
    const process = section.dataset.process;
    const steps = [];
    const step = (name, ok, detailKey, values) => {
      steps.push({ name, ok, detail: say(detailKey, values) });
      if (!ok) throw new StepFailed(name);
    };
    const facts = [[texts.receipt_code, shortCode(receipt)], [texts.receipt_commitment, receipt]];
    try {
      // 1. The ballot as published: its record hashes to the receipt.
      const inclusion = await getJson(`/v1/participation/processes/${encodeURIComponent(process)}/ballots/${receipt}`);
      if (inclusion.status === 404) return { state: 'not-found', steps, facts };
      if (inclusion.status === 409) return { state: 'not-closed', steps, facts };
      if (!inclusion.ok || !inclusion.body) throw new CheckStopped(`HTTP ${inclusion.status}`);
      const ballot = inclusion.body.ballot || {};
      const choices = Array.isArray(ballot.choices) ? ballot.choices.map(String) : [];
      const record = JSON.stringify({ choices: [...choices].sort(), nonce: String(ballot.nonce), pseudonym: String(ballot.pseudonym) });
      const computed = await hashes.sha256Hex(utf8(record));
      const names = JSON.parse((document.getElementById('option-names') || { textContent: '{}' }).textContent);
      facts.push([texts.check_choices, choices.map((choice) => names[choice] || choice).join(' · ')]);
      step(texts.verify_step_record, computed === receipt, computed === receipt ? 'verify_step_record_ok' : 'verify_step_record_bad', { commitment: receipt, computed });

      // 2. Its leaf and proof lead to the ballots' root the process published.
      const proof = Array.isArray(inclusion.body.proof) ? inclusion.body.proof : [];
      const published = String(inclusion.body.ballots_root || '');
      const wellFormed = proof.every(isHex32);
      const root = wellFormed ? hashes.toHex(hashUp(doubleKeccak(hashes.fromHex(receipt)), proof)) : '';
      const proofOk = wellFormed && root === bare(published);
      step(texts.verify_step_proof, proofOk, proofOk ? 'verify_step_proof_ok' : 'verify_step_proof_bad', { count: proof.length, root: published, computed: root || '—' });

      // 3. That root is the one notarised: the notary leaf binds it, and its proof leads to a batch root.
      const code = String(inclusion.body.ballots_verification_code || '');
      let bundle = null;
      for (let attempt = 0; ; attempt++) {
        const answer = await getJson(`/v1/verify/${encodeURIComponent(code)}/bundle`);
        if (answer.ok && answer.body) {
          bundle = answer.body;
          break;
        }
        if (answer.status !== 409 || attempt >= RETRIES) throw new CheckStopped(`HTTP ${answer.status}`);
        render(section, { state: 'pending', steps, facts });
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
      const fields = [bundle.document_hash, bundle.administration, bundle.salt];
      const index = Number(bundle.leaf_index);
      const size = Number(bundle.tree_size);
      const bundleProof = Array.isArray(bundle.proof) ? bundle.proof : [];
      const readable = fields.every(isHex32) && bundleProof.every(isHex32) && Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size;
      const sameRoot = readable && bare(bundle.document_hash) === root;
      const fits = readable && bundleProof.length === proofLength(index, size);
      const notaryLeaf = readable ? doubleKeccak(hashes.concat(...fields.map(hashes.fromHex), hashes.fromHex(word(BigInt(index))))) : null;
      const batch = readable ? hashes.toHex(hashUp(notaryLeaf, bundleProof)) : '';
      if (!sameRoot) {
        step(texts.verify_step_notarised, false, 'verify_step_notarised_bad', { code, notarised: readable ? bare(bundle.document_hash) : '—', root });
      }
      step(texts.verify_step_notarised, fits, fits ? 'verify_step_notarised_ok' : 'verify_step_notarised_proof_bad', { code, count: bundleProof.length, batch });

      // 4. The chain holds that batch root, at this deployment's Notary, anchored by the process's administration.
      const deployment = await getJson('/.well-known/segell.json');
      if (!deployment.ok || !deployment.body) throw new CheckStopped(`HTTP ${deployment.status}`);
      const notary = String(deployment.body.notary);
      const expectedChain = String(deployment.body.chain_id);
      const [chainHex, anchorHex, revokedHex] = await rpc([
        ['eth_chainId', []],
        ['eth_call', [{ to: notary, data: `0x${selector('anchorOf(bytes32)')}${batch}` }, 'latest']],
        ['eth_call', [{ to: notary, data: `0x${selector('isRevoked(bytes32)')}${hashes.toHex(notaryLeaf)}` }, 'latest']],
      ]);
      const chain = BigInt(chainHex).toString();
      if (chain !== expectedChain) step(texts.verify_step_chain, false, 'verify_step_chain_other', { found: chain, chain: expectedChain });
      const anchor = bare(anchorHex);
      const slot = (n) => anchor.slice(64 * n, 64 * n + 64);
      const anchoredBy = anchor.length >= 320 ? administrationCode(slot(0)) : '';
      const anchoredSize = anchor.length >= 320 ? Number(BigInt(`0x${slot(2)}`)) : 0;
      const held = anchoredSize !== 0 && anchoredSize === size && slot(0) === bare(bundle.administration) && anchoredBy === section.dataset.administration;
      const values = {
        notary,
        chain,
        batch,
        administration: anchoredBy || '—',
        size: anchoredSize,
        block: held ? Number(BigInt(`0x${slot(3)}`)) : 0,
        date: held ? moment(Number(BigInt(`0x${slot(4)}`))) : '',
      };
      step(texts.verify_step_chain, held, held ? 'verify_step_chain_ok' : 'verify_step_chain_bad', values);
      if (BigInt(revokedHex) !== 0n) step(texts.verify_step_chain, false, 'verify_step_revoked', values);
      return { state: 'verified', steps, facts };
    } catch (error) {
      if (error instanceof StepFailed) return { state: 'failed', steps, facts };
      if (error instanceof CheckStopped) return { state: 'error', steps, facts, message: error.message };
      return { state: 'error', steps, facts, message: String(error) };
    }
  }

  function render(section, outcome) {
    section.dataset.state = outcome.state;
    section.textContent = '';
    const heading = document.createElement('h2');
    heading.id = 'check-heading';
    const lines = [];
    const titles = {
      progress: ['verify_progress'],
      pending: ['verify_progress', 'verify_pending'],
      verified: ['verify_ok', 'verify_ok_text'],
      failed: ['verify_failed', 'verify_failed_text'],
      'not-found': ['verify_failed', 'verify_not_found'],
      'not-closed': ['verify_failed', 'verify_not_closed'],
      error: ['verify_failed', 'verify_unreachable'],
    }[outcome.state];
    heading.textContent = texts[titles[0]];
    if (titles[1]) lines.push(say(titles[1], { message: outcome.message || '' }));
    section.append(heading, ...lines.map((text) => {
      const line = document.createElement('p');
      line.textContent = text;
      return line;
    }));
    section.className = `card check notice notice-${{ verified: 'ok', progress: 'warn', pending: 'warn' }[outcome.state] || 'bad'}`;
    if (outcome.facts && outcome.facts.length) {
      const list = document.createElement('dl');
      list.className = 'facts';
      outcome.facts.forEach(([name, value]) => {
        const term = document.createElement('dt');
        term.textContent = name;
        const detail = document.createElement('dd');
        detail.textContent = value;
        list.append(term, detail);
      });
      section.append(list);
    }
    if (outcome.steps && outcome.steps.length) {
      const list = document.createElement('ol');
      list.className = 'check-steps';
      list.id = 'check-steps';
      outcome.steps.forEach((item) => {
        const entry = document.createElement('li');
        entry.dataset.ok = String(item.ok);
        const status = document.createElement('strong');
        status.textContent = `${item.ok ? texts.verify_step_ok : texts.verify_step_failed} · ${item.name}: `;
        entry.append(status, item.detail);
        list.append(entry);
      });
      section.append(list);
    }
  }

  async function setUpCheck() {
    const section = document.getElementById('check-result');
    if (!section || !section.dataset.receipt) return;
    render(section, { state: 'progress' });
    render(section, await checkBallot(section, section.dataset.receipt));
  }

  // -- results -------------------------------------------------------------------------------------------------------

  function wrapLabel(label, width) {
    const lines = [];
    String(label).split(/\s+/).forEach((word) => {
      const last = lines.length ? lines[lines.length - 1] : null;
      if (last !== null && `${last} ${word}`.length <= width) lines[lines.length - 1] = `${last} ${word}`;
      else lines.push(word.length > width ? `${word.slice(0, width - 1)}…` : word);
    });
    return lines;
  }

  function drawResults() {
    if (typeof window.Chart !== 'function') return;
    document.querySelectorAll('canvas[data-votes-chart]').forEach((canvas) => {
      const spec = JSON.parse(document.getElementById(canvas.dataset.votesChart).textContent);
      canvas.parentElement.style.height = `${Math.max(240, spec.labels.length * (canvas.clientWidth < 600 ? 56 : 28) + 80)}px`;
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
          scales: {
            x: { beginAtZero: true, ticks: { precision: 0 } },
            // Long names in lines of their own, so that a phone's narrow chart shows them whole.
            y: { ticks: { callback(value) { return wrapLabel(this.getLabelForValue(value), canvas.clientWidth < 600 ? 18 : 40); } } },
          },
          plugins: { legend: { display: false } },
        },
      });
    });
  }

  function start() {
    takeTokenFromAddress();
    showSession();
    setUpSupports();
    setUpProposing();
    setUpBallot();
    fillKeptReceipt();
    setUpCheck();
    drawResults();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
