/* global document, window, fetch, EventSource */
// Nightshift's status page: loads overview.json, then follows the live stream (server-sent events).
// Read only by design: decisions are made on chat, where Nightshift knows who is asking.
// Every value is set with textContent, never parsed as HTML.
'use strict';

(() => {
  /** Reconnect after the server refused the stream (full, restarting) or the network failed for good. */
  const RETRY_AFTER_CLOSE_MS = 10_000;

  let current = null;
  /** When the current overview arrived (browser clock); server time now ≈ generatedAt + elapsed since then. */
  let receivedAt = 0;

  const byId = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function tag(text, kind) {
    return el('span', kind ? `tag ${kind}` : 'tag', text);
  }

  function serverNow() {
    return current ? current.generatedAt + (Date.now() - receivedAt) : Date.now();
  }

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h}h ${m % 60}m`;
    return `${Math.floor(h / 24)}d ${h % 24}h`;
  }

  /** "3m ago" that keeps counting: the tick below rewrites every element with data-at. */
  function ago(at, prefix = '') {
    const node = el('span', 'ago');
    if (at === null || at === undefined) {
      node.textContent = `${prefix}never`;
      return node;
    }
    node.dataset.at = String(at);
    node.dataset.prefix = prefix;
    node.textContent = `${prefix}${duration(serverNow() - at)} ago`;
    node.title = new Date(at).toLocaleString();
    return node;
  }

  function until(at, prefix) {
    return el('span', 'muted', `${prefix} ${duration(at - serverNow())}`);
  }

  function clock(at) {
    return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function fill(node, children) {
    node.replaceChildren(...children);
  }

  function renderSummary(o) {
    const s = o.summary;
    const header = byId('summary');
    header.dataset.state = s.state;
    byId('state').textContent = s.state;
    const parts = [`${s.checks} checks`, `${s.failing} failing`];
    if (s.stale) parts.push(`${s.stale} stale`);
    if (s.inactiveTimers) parts.push(`${s.inactiveTimers} inactive timers`);
    parts.push(`${s.heals24h} heals 24h`, `${s.escalations24h} escalations`);
    byId('counts').textContent = parts.join(' · ');
    fill(byId('last-patrol'), [ago(s.lastPatrolAt, 'patrol: '), el('span', '', s.core === 'stalled' ? ' (stalled)' : '')]);
    document.title = s.failing > 0 ? `${s.state} (${s.failing} failing) · Nightshift` : `${s.state} · Nightshift`;
  }

  function renderStrip(strip, axis) {
    const node = el('div', 'strip');
    node.setAttribute('role', 'img');
    const failing = (strip.match(/f/g) || []).length;
    node.setAttribute('aria-label', `last 24 hours: ${failing} of ${strip.length} quarter hours with failures`);
    const names = { o: 'ok', f: 'failing', '-': 'no data' };
    for (let i = 0; i < strip.length; i++) {
      const state = strip[i];
      const cell = el('span', `cell c-${state}`);
      const from = axis.from + i * axis.cellMs;
      cell.title = `${clock(from)}–${clock(from + axis.cellMs)}: ${names[state] || state}`;
      node.append(cell);
    }
    return node;
  }

  function renderChecks(o) {
    const rows = o.checks.map((c) => {
      const row = el('li', 'check');
      row.dataset.check = c.name;
      row.dataset.status = c.status;
      row.dataset.stale = String(c.stale);
      const name = el('div', 'check-name', c.name);
      const sub = el('span', 'check-sub', `${c.kind} · ${c.severity} · `);
      sub.append(ago(c.lastRunAt, 'ran '));
      name.append(sub);
      const message = el('div', 'check-message', c.message || (c.status === 'unknown' ? 'not run yet' : ''));
      if (c.status === 'failing' && c.consecutiveFailures > 1) message.append(tag(`${c.consecutiveFailures}×`, 'bad'));
      if (c.symptomOf) message.append(tag(`symptom of ${c.symptomOf}`, 'warn'));
      if (c.escalated) message.append(tag('escalated', 'bad'));
      if (c.flapping) message.append(tag('flapping', 'warn'));
      if (c.stale) message.append(tag('stale', 'warn'));
      if (c.muted) message.append(tag('muted'));
      row.append(name, message, renderStrip(c.strip, o.strip));
      return row;
    });
    fill(byId('checks'), rows.length ? rows : [el('li', 'muted', 'No checks configured.')]);
  }

  function renderIncidents(o) {
    byId('incidents-section').hidden = o.incidents.length === 0;
    fill(
      byId('incidents'),
      o.incidents.map((i) => {
        const li = el('li', 'incident');
        li.dataset.incident = String(i.id);
        const head = el('div', '', '');
        head.append(el('strong', '', `#${i.id} ${i.check}`), tag(i.severity, i.severity === 'critical' ? 'bad' : ''));
        if (i.escalated) head.append(tag('escalated', 'bad'));
        if (i.ackedBy) head.append(tag(`acked by ${i.ackedBy}`));
        head.append(el('span', 'muted', ` · open ${duration(serverNow() - i.openedAt)} · ${i.failures} failed run${i.failures === 1 ? '' : 's'}`));
        li.append(head, el('div', 'check-message', i.message));
        if (i.rootCause) li.append(el('div', 'muted', `symptom of #${i.rootCause.id} ${i.rootCause.check} (the root cause)`));
        if (i.symptoms.length) li.append(el('div', 'muted', `root cause of: ${i.symptoms.map((s) => `#${s.id} ${s.check}`).join(', ')}`));
        return li;
      }),
    );
  }

  function renderWaiting(o) {
    const items = [];
    for (const q of o.questions) {
      const li = el('li', 'question');
      li.append(el('div', '', q.prompt));
      const meta = el('div', 'muted', `question ${q.id} · ${q.kind} · ${q.subject} · needs ${q.requiredRole} · asked `);
      meta.append(ago(q.createdAt), document.createTextNode(' · '), until(q.expiresAt, 'expires in'));
      li.append(meta);
      items.push(li);
    }
    for (const p of o.proposals) {
      const li = el('li', 'proposal');
      li.append(el('div', '', `Proposal ${p.id}: ${p.summary}`));
      const meta = el('div', 'muted', `${p.kind}${p.target ? ` for ${p.target}` : ''} · from diagnosis #${p.diagnosisId} · `);
      meta.append(until(p.expiresAt, 'expires in'));
      li.append(meta);
      items.push(li);
    }
    fill(byId('waiting'), items.length ? items : [el('li', 'muted', 'Nothing is waiting for an answer.')]);
  }

  const OUTCOMES = { held: 'held', 'not-held': 'did not hold', failed: 'heal failed', watching: 'watching' };

  function renderHeals(o) {
    fill(
      byId('heals'),
      o.heals.length
        ? o.heals.map((h) => {
            const li = el('li', 'heal');
            li.dataset.outcome = h.outcome;
            const head = el('div', '');
            head.append(
              el('strong', '', h.check),
              el('span', '', ` ${h.steps.map((s) => s.action).join(' → ')} `),
              el('span', `outcome-${h.outcome}`, OUTCOMES[h.outcome] || h.outcome),
              el('span', 'muted', ' · '),
              ago(h.at),
            );
            li.append(head);
            const last = h.steps[h.steps.length - 1];
            if (last && last.message) li.append(el('div', 'muted', last.message));
            if (h.note) li.append(el('div', 'muted', h.note));
            return li;
          })
        : [el('li', 'muted', 'No heals in the last 24 hours.')],
    );
  }

  function renderRegret(o) {
    const flagged = new Set(o.regret.categories.filter((c) => c.flags.length > 0).map((c) => c.category));
    fill(
      byId('regret'),
      o.regret.lines.map((line) => {
        const category = line.split(':')[0];
        return el('li', flagged.has(category) ? 'outcome-failed' : '', line);
      }),
    );
  }

  function renderDiagnosis(o) {
    const d = o.diagnosis;
    const text = byId('diagnosis');
    const meta = byId('diagnosis-meta');
    if (!d) {
      meta.textContent = 'none yet';
      text.hidden = true;
      return;
    }
    fill(meta, [
      el('span', '', `#${d.id} (${d.trigger}${d.subject ? `: ${d.subject}` : ''}) · `),
      ago(d.at),
      el('span', '', d.clipped ? ` · the start of it; /diagnosis ${d.id} on chat shows it all` : ''),
    ]);
    text.textContent = d.text;
    text.hidden = false;
  }

  function render(o) {
    current = o;
    receivedAt = Date.now();
    renderSummary(o);
    renderIncidents(o);
    renderChecks(o);
    renderWaiting(o);
    renderHeals(o);
    renderRegret(o);
    renderDiagnosis(o);
  }

  function setConnection(state, text) {
    const node = byId('connection');
    node.dataset.connection = state;
    node.textContent = text;
  }

  let rendered = false;

  /** One read of the data, for a page the live stream cannot serve (refused, or no EventSource). */
  function loadOnce() {
    return fetch('overview.json', { cache: 'no-store', credentials: 'same-origin' })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
      .then((overview) => {
        rendered = true;
        render(overview);
      })
      .catch((err) => setConnection('offline', `could not load: ${err.message}`));
  }

  // The stream's first event is the current overview: no separate fetch on open (it would build the overview twice).
  function follow() {
    const source = new EventSource('live');
    source.addEventListener('overview', (event) => {
      rendered = true;
      render(JSON.parse(event.data));
      setConnection('live', 'live');
    });
    source.addEventListener('open', () => setConnection('live', 'live'));
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (503: too many views, or a restart): the browser will not retry by itself.
        setConnection('offline', 'offline, retrying');
        source.close();
        if (!rendered) void loadOnce();
        window.setTimeout(follow, RETRY_AFTER_CLOSE_MS);
      } else {
        setConnection('connecting', 'reconnecting');
      }
    });
  }

  function tick() {
    const now = serverNow();
    for (const node of document.querySelectorAll('[data-at]')) {
      node.textContent = `${node.dataset.prefix || ''}${duration(now - Number(node.dataset.at))} ago`;
    }
  }

  if (typeof EventSource === 'function') follow();
  else void loadOnce();
  window.setInterval(tick, 1000);
})();
