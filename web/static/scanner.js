// The store's scanner page (/scanner): a tablet or a phone at the register
// that pairs once as a terminal, then sells, tops up and refunds with the
// terminal API. Modules:
//
//   scanner-api.js     the page's key, pairing, client assertions, calls
//   scanner-camera.js  the camera and the two decoders
//   scanner-code.js    typed codes: digits, groups, the Luhn check
//   i18n.js, ui.js     shared with the shopper's app (texts, screens)
//
// Money never moves twice: a sale (or a top-up, or a refund) gets its
// Idempotency-Key when Pay is first pressed, and keeps it, with its exact
// request, until an answer comes back; a lost answer is sent again with
// the same key (the server then answers the first result again), and the
// screen says so. While a sale waits for its answer its amount and code
// cannot be changed, and a second tap on Pay does nothing.

import * as i18n from './i18n.js';
import { t, money } from './i18n.js';
import { $, show, showError, clearError, notice, renderNotice, busy } from './ui.js';
import { ApiError, OfflineError } from './api.js';
import * as api from './scanner-api.js';
import * as camera from './scanner-camera.js';
import { group, readTyped } from './scanner-code.js';
import { randomId } from './jws.js';

i18n.setApp('scanner');

const MAX_DIGITS = 9; // ¥999,999,999: the API's largest amount is 10^9
const RETRY_DELAYS = [1000, 2000, 4000]; // a lost answer: sent again after these

let terminal = null; // {id, storeId, storeName, label}
let mode = 'sale'; // or 'topup'
let amount = '';
let pending = null; // the sale waiting for its answer: {kind, path, body, key}
let sending = false;

// ---------- who we are ----------
function renderPaired() {
  const el = $('paired-as');
  if (!terminal) { el.hidden = true; return; }
  const n = terminal.storeName;
  const storeName = typeof n === 'string' ? n : i18n.storeName(n, terminal.storeId);
  el.textContent = storeName
    ? t('scanner.paired_as', { store: storeName, label: terminal.label || terminal.id })
    : t('scanner.paired_as_id', { id: terminal.id });
  el.hidden = false;
}

// blocked shows what stops this register and what to do.
function blocked(id) {
  camera.stop();
  $('blocked-text').textContent = t(id);
  $('blocked-text').dataset.t = id;
  show('blocked');
}

// stopper turns the answers that stop the register into its screen;
// it returns false for the others.
function stopper(e) {
  if (!(e instanceof ApiError)) return false;
  if (e.code === 'terminal_suspended') { blocked('scanner.blocked.suspended'); return true; }
  if (e.status === 401 && e.code === 'invalid_client') { blocked('scanner.blocked.not_registered'); return true; }
  return false;
}

// ---------- pairing ----------
async function drawKey() {
  const { pem } = await api.key();
  $('key-pem').textContent = pem;
  const svg = $('key-qr');
  const Z = window.ZXing;
  if (!Z) { svg.hidden = true; return; }
  const hints = new Map([[Z.EncodeHintType.ERROR_CORRECTION, Z.QRCodeDecoderErrorCorrectionLevel.L], [Z.EncodeHintType.MARGIN, 4]]);
  const m = new Z.QRCodeWriter().encode(pem, Z.BarcodeFormat.QR_CODE, 0, 0, hints);
  const w = m.getWidth(), h = m.getHeight();
  const nodes = [];
  const bg = document.createElementNS(svg.namespaceURI, 'rect');
  bg.setAttribute('width', String(w));
  bg.setAttribute('height', String(h));
  bg.setAttribute('fill', '#fff');
  nodes.push(bg);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!m.get(x, y)) continue;
      const r = document.createElementNS(svg.namespaceURI, 'rect');
      r.setAttribute('x', String(x));
      r.setAttribute('y', String(y));
      r.setAttribute('width', '1');
      r.setAttribute('height', '1');
      nodes.push(r);
    }
  }
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.replaceChildren(...nodes);
  svg.hidden = false;
}

async function startPairing() {
  terminal = null;
  renderPaired();
  show('pair');
  await drawKey();
}

$('form-pairing').addEventListener('submit', (ev) => {
  ev.preventDefault();
  busy(ev.target, async () => {
    const code = $('pairing-code').value.trim().toUpperCase();
    if (!code) throw new Error(t('scanner.pair.code_missing'));
    try {
      terminal = await api.redeemPairing(code);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'rate_limited') throw new Error(t('scanner.pair.rate_limited'));
      throw e;
    }
    $('pairing-code').value = '';
    await api.checkPairing();
    terminal = await api.paired();
    startSelling('scanner.pair.done');
  });
});

$('form-terminal-id').addEventListener('submit', (ev) => {
  ev.preventDefault();
  busy(ev.target, async () => {
    const id = $('terminal-id').value.trim();
    if (!id) throw new Error(t('scanner.pair.terminal_id_missing'));
    await api.setPaired({ id, storeId: '', storeName: null, label: '' });
    try {
      await api.checkPairing();
    } catch (e) {
      await api.unpair().catch(() => {});
      await drawKey();
      if (e instanceof ApiError && e.status === 401) throw new Error(t('scanner.pair.terminal_id_refused'));
      throw e;
    }
    terminal = await api.paired();
    startSelling('scanner.pair.done');
  });
});

async function unpair() {
  if (pending) { showError(t('scanner.sale.pending_unpair')); return; }
  camera.stop();
  await api.unpair();
  await startPairing();
}
$('unpair').addEventListener('click', () => unpair());
$('blocked-unpair').addEventListener('click', () => unpair());
$('blocked-retry').addEventListener('click', (ev) => busy(ev.target, async () => {
  try {
    await api.checkPairing();
  } catch (e) {
    if (stopper(e)) return;
    throw e;
  }
  startSelling();
}));

// ---------- selling ----------
function startSelling(noticeId) {
  terminal && renderPaired();
  show('sell');
  renderSell();
  if (noticeId) notice(noticeId);
}

function amountValue() { return Number(amount || '0'); }

function renderSell() {
  const topup = mode === 'topup';
  $('sell-h').textContent = t(topup ? 'scanner.topup.title' : 'scanner.sell.title');
  $('sell-h').dataset.t = topup ? 'scanner.topup.title' : 'scanner.sell.title';
  $('mode-sale').setAttribute('aria-pressed', String(!topup));
  $('mode-topup').setAttribute('aria-pressed', String(topup));
  $('topup-hint').hidden = !topup;
  $('order-box').hidden = topup;
  $('amount').textContent = money(amountValue());
  const a = pending ? pending.body.amount : amountValue();
  $('pay').textContent = t(topup ? 'scanner.sell.topup_button' : 'scanner.sell.pay_button', { amount: money(a) });
  renderCodeState();
  const locked = !!pending;
  for (const el of [...$('keypad').querySelectorAll('button'), $('mode-sale'), $('mode-topup'), $('scan'), $('code'), $('order-ref')]) {
    el.disabled = locked;
  }
}

function renderCodeState() {
  const { digits, state } = readTyped($('code').value);
  const el = $('code-state');
  if (!digits) { el.textContent = t('scanner.code.empty'); return; }
  el.textContent = state === 'short' ? t('scanner.code.short', { n: String(digits.length) }) : t('scanner.code.' + state);
}

function setMode(m) {
  if (pending || mode === m) return;
  mode = m;
  resetResult();
  renderSell();
}
$('mode-sale').addEventListener('click', () => setMode('sale'));
$('mode-topup').addEventListener('click', () => setMode('topup'));

$('keypad').addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-key]');
  if (!b || pending) return;
  const k = b.dataset.key;
  if (k === 'clear') amount = '';
  else if (k === 'back') amount = amount.slice(0, -1);
  else amount = (amount + k).replace(/^0+/, '').slice(0, MAX_DIGITS);
  resetResult();
  renderSell();
});
// A hardware keyboard (or a USB keypad) types the amount too, unless a
// text field has the focus.
document.addEventListener('keydown', (ev) => {
  if (document.body.dataset.screen !== 'sell' || pending || ev.target.closest('input, textarea')) return;
  if (/^[0-9]$/.test(ev.key)) amount = (amount + ev.key).replace(/^0+/, '').slice(0, MAX_DIGITS);
  else if (ev.key === 'Backspace') amount = amount.slice(0, -1);
  else return;
  ev.preventDefault();
  resetResult();
  renderSell();
});

$('code').addEventListener('input', () => { resetResult(); renderCodeState(); });

$('scan').addEventListener('click', async () => {
  clearError();
  if (!camera.available()) { showError(t('scanner.scan.unavailable')); return; }
  $('camera-box').hidden = false;
  $('scan').hidden = true;
  notice('scanner.scan.looking');
  try {
    const digits = await camera.scan($('camera'));
    if (digits) {
      $('code').value = group(digits);
      renderCodeState();
      notice('scanner.scan.read');
      $('pay').focus();
    }
  } catch (e) {
    notice(null);
    const name = e && e.name;
    showError(t(name === 'NotAllowedError' ? 'scanner.scan.denied' : name === 'NotFoundError' ? 'scanner.scan.no_camera' : 'scanner.scan.failed'));
  } finally {
    $('camera-box').hidden = true;
    $('scan').hidden = false;
  }
});
$('scan-stop').addEventListener('click', () => { camera.stop(); notice(null); });

function resetResult() {
  if (pending) return;
  showResult(null);
  $('next').hidden = true;
  $('pay').hidden = false;
}

// newSale checks what was entered and makes the sale with its key.
function newSale() {
  const a = amountValue();
  if (a <= 0) throw new Error(t('scanner.sell.amount_missing'));
  const { digits, state } = readTyped($('code').value);
  if (state !== 'ok') throw new Error(t(digits ? 'scanner.code.' + (state === 'short' ? 'incomplete' : state) : 'scanner.code.empty'));
  const body = { code: digits, amount: a, currency: 'JPY' };
  const ref = $('order-ref').value.trim();
  if (mode === 'sale' && ref) body.order_ref = ref;
  return { kind: mode, path: mode === 'topup' ? '/v1/terminal/topups' : '/v1/terminal/payments', body, key: randomId(18) };
}

const wait = (ms) => new Promise((r) => setTimeout(r, ms));

// lost reports whether an error means that no answer came back: the
// request may have been carried out (no connection, a gateway's error,
// the server's 503 'unconfirmed').
const lost = (e) => e instanceof OfflineError || (e instanceof ApiError && e.status >= 500);

// sendOnce sends a money request with its key until an answer comes:
// again after a lost answer, with the same key and body, up to
// RETRY_DELAYS; onRetry(n) is told before each resend. It throws the last
// lost-answer error when none came.
async function sendOnce(req, onRetry) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api.call('POST', req.path, { body: req.body, idem: req.key });
    } catch (e) {
      if (!lost(e) || attempt >= RETRY_DELAYS.length) throw e;
      onRetry(attempt + 1);
      await wait(RETRY_DELAYS[attempt]);
    }
  }
}

// The answer on screen, kept as text ids (and the problem) so that a
// change of language says it again: {kind, head, amount, text: {id, args}
// or {problem, status}, note, paymentId}.
let shown = null;

function showResult(r) { shown = r; renderResult(); }

function renderResult() {
  const box = $('result');
  if (!shown) { box.hidden = true; box.className = 'result'; return; }
  const r = shown;
  box.className = 'result ' + r.kind;
  box.hidden = false;
  $('result-head').textContent = t(r.head);
  $('result-amount').textContent = r.amount === undefined ? '' : money(r.amount);
  const tx = r.text || {};
  $('result-text').textContent = tx.problem ? i18n.problemText(tx.problem, tx.status) : tx.id ? t(tx.id, tx.args) : '';
  $('result-text').dataset.code = (tx.problem && tx.problem.code) || '';
  $('result-note').textContent = r.note ? t(r.note) : '';
  $('result-id').textContent = r.paymentId ? t('scanner.sale.number', { id: r.paymentId }) : '';
  $('result-id').dataset.paymentId = r.paymentId || '';
}

$('pay').addEventListener('click', async () => {
  if (sending) return; // a second tap while the first is on its way
  sending = true;
  clearError();
  $('pay').disabled = true;
  let retried = false;
  try {
    if (!pending) pending = newSale();
    renderSell();
    document.body.dataset.sale = 'sending';
    const { data, replayed } = await sendOnce(pending, (n) => {
      retried = true;
      document.body.dataset.sale = 'retrying';
      showResult({ kind: 'waiting', head: 'scanner.sale.retrying_head', amount: pending.body.amount, text: { id: 'scanner.sale.retrying', args: { n: String(n) } } });
    });
    const topup = pending.kind === 'topup';
    showResult({
      kind: 'approved', head: topup ? 'scanner.sale.topped_up' : 'scanner.sale.approved', amount: data.amount,
      text: topup ? { id: 'scanner.sale.take_cash' } : null, note: retried || replayed ? 'scanner.sale.once' : null, paymentId: data.payment_id,
    });
    pending = null;
    document.body.dataset.sale = 'approved';
    $('pay').hidden = true;
    $('next').hidden = false;
    $('next').focus();
  } catch (e) {
    if (pending && lost(e)) {
      // Still no answer: the sale is kept, and Pay sends it again.
      document.body.dataset.sale = 'unanswered';
      showResult({ kind: 'waiting', head: 'scanner.sale.unanswered_head', amount: pending.body.amount, text: { id: 'scanner.sale.unanswered' } });
    } else if (pending) {
      // An answer: nothing was charged.
      const sale = pending;
      pending = null;
      document.body.dataset.sale = 'declined';
      if (!stopper(e)) {
        const text = e instanceof ApiError ? { problem: e.problem, status: e.status } : { id: 'scanner.problem.status', args: { status: '?' } };
        showResult({ kind: 'declined', head: 'scanner.sale.declined', amount: sale.body.amount, text });
      }
    } else {
      showError(e); // nothing was sent (the amount or the code is missing)
    }
  } finally {
    sending = false;
    $('pay').disabled = false;
    renderSell();
  }
});

$('next').addEventListener('click', () => {
  amount = '';
  $('code').value = '';
  $('order-ref').value = '';
  resetResult();
  notice(null);
  renderSell();
  $('sell-h').focus();
});

// ---------- refunds ----------
let cursor = '';
let chosen = null; // {id, amount, refunded, currency}
let pendingRefund = null;
let refundShown = null; // {kind, head: {id, amount}, currency, text: {id, args}}

function showRefundResult(r) { refundShown = r; renderRefundResult(); }

function renderRefundResult() {
  const box = $('refund-result');
  if (!refundShown) { box.hidden = true; return; }
  const r = refundShown;
  box.hidden = false;
  box.className = 'result ' + r.kind;
  $('refund-result-head').textContent = t(r.head.id, r.head.amount === undefined ? undefined : { amount: money(r.head.amount, r.currency) });
  $('refund-result-text').textContent = r.text ? t(r.text.id, r.text.args) : '';
}

function saleItem(p) {
  const li = document.createElement('li');
  const remaining = p.amount - (p.refunded_amount || 0);
  const what = document.createElement('span');
  what.className = 'h-kind';
  what.textContent = p.order_ref ? t('scanner.refunds.sale_ref', { ref: p.order_ref }) : t('scanner.refunds.sale');
  const amt = document.createElement('span');
  amt.className = 'h-amount';
  amt.textContent = money(p.amount, p.currency);
  const when = document.createElement('span');
  when.className = 'h-store';
  when.textContent = i18n.clockTime(p.created_at);
  const state = document.createElement('span');
  state.className = 'h-time';
  state.textContent = p.refunded_amount ? t('scanner.refunds.refunded', { amount: money(p.refunded_amount, p.currency) }) : '';
  li.append(what, amt, when, state);
  if (remaining > 0) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'refund-pick';
    b.dataset.id = p.id;
    b.textContent = t('scanner.refunds.pick', { amount: money(p.amount, p.currency), time: i18n.clockTime(p.created_at) });
    b.addEventListener('click', () => choose({ id: p.id, amount: p.amount, refunded: p.refunded_amount || 0, currency: p.currency, created_at: p.created_at }));
    li.append(b);
  }
  return li;
}

// Today's sales as loaded (re-drawn, not re-fetched, on a language
// switch); a newer load supersedes an older one still on its way.
let sales = [];
let salesLoad = 0;

function renderSales() {
  $('sales').replaceChildren(...sales.map(saleItem));
  $('sales-more').hidden = !cursor;
}

async function loadSales(more) {
  const my = ++salesLoad;
  if (!more) cursor = '';
  $('sales-state').textContent = t('scanner.refunds.loading');
  try {
    const q = '/v1/terminal/payments?limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    const { data } = await api.call('GET', q);
    if (my !== salesLoad) return;
    const list = (data.payments || []).filter((p) => !p.kind || p.kind === 'payment');
    sales = more ? sales.concat(list) : list;
    cursor = data.next_cursor || '';
    renderSales();
    $('sales-state').textContent = sales.length ? '' : t('scanner.refunds.none');
  } catch (e) {
    if (my !== salesLoad || stopper(e)) return;
    $('sales-state').textContent = t('scanner.refunds.list_failed');
  }
}

function showRefunds() {
  if (pending) { showError(t('scanner.sale.pending_unpair')); return; }
  camera.stop();
  show('refunds');
  $('refund-panel').hidden = true;
  loadSales(false);
}
$('go-refunds').addEventListener('click', showRefunds);
$('go-sell').addEventListener('click', () => {
  if (pendingRefund) { showError(t('scanner.refund.pending')); return; }
  startSelling();
});
$('sales-more').addEventListener('click', () => loadSales(true));

function choose(p) {
  if (pendingRefund) return;
  chosen = p;
  renderChosen();
  $('refund-amount').value = String(p.amount - p.refunded);
  showRefundResult(null);
  $('refund-panel').hidden = false;
  renderRefundButton();
  $('refund-amount').focus();
}

function renderChosen() {
  const p = chosen;
  $('refund-sale').textContent = t('scanner.refund.sale_is', { amount: money(p.amount, p.currency), id: p.id });
  $('refund-remaining').textContent = money(p.amount - p.refunded, p.currency);
}

function refundAmount() {
  const s = $('refund-amount').value.replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/[,\s¥￥]/g, '');
  return /^[0-9]{1,10}$/.test(s) ? Number(s) : 0;
}

function renderRefundButton() {
  if (!chosen) return;
  const a = pendingRefund ? pendingRefund.body.amount : refundAmount();
  const all = a === chosen.amount - chosen.refunded;
  $('refund-submit').textContent = t(all ? 'scanner.refund.all_button' : 'scanner.refund.part_button', { amount: money(a, chosen.currency) });
  $('refund-amount').disabled = !!pendingRefund;
}
$('refund-amount').addEventListener('input', renderRefundButton);

$('form-find').addEventListener('submit', (ev) => {
  ev.preventDefault();
  busy(ev.target, async () => {
    const id = $('payment-id').value.trim();
    if (!id) throw new Error(t('scanner.refunds.find_missing'));
    try {
      const { data } = await api.call('GET', '/v1/terminal/payments/' + encodeURIComponent(id));
      if (data.kind && data.kind !== 'payment') throw new Error(t('scanner.refunds.not_a_sale'));
      choose({ id: data.payment_id, amount: data.amount, refunded: data.refunded || 0, currency: data.currency, created_at: data.created_at });
    } catch (e) {
      if (stopper(e)) return;
      throw e;
    }
  });
});

$('form-refund').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (sending || !chosen) return;
  sending = true;
  busy(ev.target, async () => {
    try {
      if (!pendingRefund) {
        const a = refundAmount();
        if (a <= 0 || a > chosen.amount - chosen.refunded) throw new Error(t('scanner.refund.amount_invalid', { max: money(chosen.amount - chosen.refunded, chosen.currency) }));
        pendingRefund = { path: `/v1/terminal/payments/${encodeURIComponent(chosen.id)}/refunds`, body: { amount: a }, key: randomId(18) };
      }
      renderRefundButton();
      const { data } = await sendOnce(pendingRefund, (n) => showRefundResult({
        kind: 'waiting', head: { id: 'scanner.sale.retrying_head' }, text: { id: 'scanner.sale.retrying', args: { n: String(n) } },
      }));
      pendingRefund = null;
      chosen = { ...chosen, refunded: chosen.refunded + data.amount };
      showRefundResult({
        kind: 'approved', head: { id: 'scanner.refund.done', amount: data.amount }, currency: chosen.currency, text: { id: 'scanner.refund.give_back' },
      });
      renderChosen();
      $('refund-amount').value = String(chosen.amount - chosen.refunded);
      document.body.dataset.refund = 'approved';
      loadSales(false);
    } catch (e) {
      if (pendingRefund && lost(e)) {
        showRefundResult({ kind: 'waiting', head: { id: 'scanner.sale.unanswered_head' }, text: { id: 'scanner.refund.unanswered' } });
        return;
      }
      pendingRefund = null;
      if (stopper(e)) return;
      throw e;
    } finally {
      renderRefundButton();
    }
  }).finally(() => { sending = false; });
});

// ---------- start ----------
$('lang-switch').addEventListener('click', async () => {
  await i18n.setLang(i18n.otherLang());
  document.body.dataset.langSaved = i18n.lang();
});
i18n.onLangChange(() => {
  renderPaired();
  renderNotice();
  if (document.body.dataset.screen === 'sell') renderSell();
  renderResult();
  renderRefundResult();
  if (chosen) { renderChosen(); renderRefundButton(); }
  renderSales();
  const b = $('blocked-text');
  if (b.dataset.t) b.textContent = t(b.dataset.t);
});

async function start() {
  await i18n.load();
  i18n.apply(document);
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    show('blocked');
    $('blocked-text').textContent = t('scanner.unsupported');
    return;
  }
  terminal = await api.paired().catch(() => null);
  if (!terminal) { await startPairing(); return; }
  renderPaired();
  try {
    await api.checkPairing();
    terminal = await api.paired();
  } catch (e) {
    if (stopper(e)) return;
    showError(e); // offline or the server's trouble: the register can still try
  }
  startSelling();
}

start();
