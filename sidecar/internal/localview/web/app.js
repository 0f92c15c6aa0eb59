// Sidelight local view. Plain JavaScript, no build step.
//
// Everything shown here comes from telemetry, which is user data: it is only
// ever placed in the page as text nodes (textContent, createTextNode) or as
// attribute values set with setAttribute. Never innerHTML.
'use strict';

(function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const main = document.getElementById('main');
  let generation = 0; // discards responses of views the user has left

  // h builds an element. props: class, id, type, value, placeholder, for,
  // href (only '#…' links built here), title, name, data-*; functions are
  // event listeners (onclick, onsubmit, …). Children: strings become text.
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    setProps(e, props);
    append(e, children);
    return e;
  }
  function s(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    setProps(e, attrs);
    append(e, children);
    return e;
  }
  function setProps(e, props) {
    if (!props) return;
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v === undefined || v === null || v === false) continue;
      if (typeof v === 'function') {
        e.addEventListener(k.replace(/^on/, ''), v);
      } else if (k === 'value') {
        e.value = String(v);
      } else if (k === 'href' && !String(v).startsWith('#') && !String(v).startsWith('/api/')) {
        throw new Error('refusing external link');
      } else {
        e.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  function append(e, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(text(c)));
    }
  }
  // text is how a telemetry value of any JSON type is shown as text.
  function text(v) {
    if (typeof v === 'string') return v;
    if (v === undefined || v === null) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function clip(str, n) {
    return str.length > n ? str.slice(0, n - 1) + '…' : str;
  }
  // invalid shows a part of a document that is not what X-Ray specifies,
  // instead of dropping it or failing the whole view.
  function invalid(what, v) {
    return h('span', { class: 'invalid' }, what + ' is not valid: ', h('code', null, clip(v === undefined ? 'undefined' : JSON.stringify(v), 300)));
  }
  // guarded renders one part of the page; if that throws, the part is
  // shown as invalid and the rest of the page still renders.
  function guarded(what, v, render) {
    try {
      return render(v);
    } catch (e) {
      return h('div', null, invalid(what, v));
    }
  }
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }

  async function api(path) {
    const r = await fetch(path, { headers: { Accept: 'application/json' } });
    const body = await r.json();
    if (!r.ok) {
      const e = new Error(body && body.error ? body.error : r.statusText);
      if (body && typeof body.offset === 'number') e.offset = body.offset; // where in the search text
      throw e;
    }
    return body;
  }

  function fmtMS(ms) {
    if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
    if (ms >= 10) return ms.toFixed(0) + ' ms';
    return ms.toFixed(1) + ' ms';
  }
  // Local wall-clock time with milliseconds. Built by hand: toLocaleTimeString
  // costs about a millisecond a call, which a 1,000-row list feels.
  function fmtTime(sec) {
    const d = new Date(sec * 1000);
    const p2 = (n) => (n < 10 ? '0' : '') + n;
    return p2(d.getHours()) + ':' + p2(d.getMinutes()) + ':' + p2(d.getSeconds()) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }
  function fmtNum(v) {
    if (Math.abs(v) >= 1000 || Number.isInteger(v)) return String(Math.round(v * 100) / 100);
    return v.toPrecision(3);
  }
  function statusBadge(status) {
    return h('span', { class: 'badge st-' + (['ok', 'error', 'fault', 'throttle'].includes(status) ? status : 'ok') }, status);
  }
  function showError(err) {
    clear(main);
    main.appendChild(h('p', { class: 'err' }, 'Could not load: ', String(err && err.message || err)));
  }

  // ---- routing ----------------------------------------------------------

  function route() {
    const hash = location.hash || '#/traces';
    const [path, qs] = hash.slice(1).split('?');
    const params = new URLSearchParams(qs || '');
    generation++;
    for (const id of ['nav-traces', 'nav-map', 'nav-metrics', 'nav-compare']) {
      document.getElementById(id).classList.remove('active');
    }
    if (path.startsWith('/trace/')) {
      document.getElementById('nav-traces').classList.add('active');
      return traceView(decodeURIComponent(path.slice('/trace/'.length)), generation);
    }
    if (path === '/map') {
      document.getElementById('nav-map').classList.add('active');
      return mapView(generation);
    }
    if (path === '/compare' && window.sidelightCompare) { // compare.js
      document.getElementById('nav-compare').classList.add('active');
      const gen = generation;
      return window.sidelightCompare(main, params, () => gen === generation);
    }
    if (path === '/metrics') {
      document.getElementById('nav-metrics').classList.add('active');
      return metricsView(params, generation);
    }
    document.getElementById('nav-traces').classList.add('active');
    return listView(params, generation);
  }

  async function refreshStats() {
    try {
      const st = await api('/api/stats');
      const el = document.getElementById('stats');
      el.textContent = st.traces + ' traces · ' + st.metric_docs + ' metric documents · ' +
        (st.bytes / 1048576).toFixed(1) + ' of ' + (st.max_bytes / 1048576).toFixed(0) + ' MiB';
    } catch (e) { /* the views report errors */ }
  }

  // ---- trace list -------------------------------------------------------

  let facetsCache = null;

  async function listView(params, gen) {
    // The facets (for the filter menus) and the list load side by side.
    const facetsLoaded = api('/api/facets').then((f) => { facetsCache = f; return f; }, () => facetsCache);
    const listLoaded = fetchList(params);
    const facets = await facetsLoaded;
    if (gen !== generation) return;
    clear(main);
    const form = filterForm(params, facets || { services: [], annotations: [] });
    const summary = h('p', { id: 'list-summary', class: 'muted' }, 'Loading…');
    const table = h('table', { id: 'trace-list', class: 'list', 'data-renders': '0' });
    main.append(form, summary, table);
    await showList(listLoaded, gen);
  }

  let listRenders = 0;

  function fetchList(params) {
    const q = new URLSearchParams();
    for (const k of ['q', 'since', 'until', 'sort', 'order', 'service', 'version', 'route', 'status', 'annotation', 'min_ms', 'max_ms', 'limit']) {
      if (params.get(k)) q.set(k, params.get(k));
    }
    const t0 = performance.now();
    return api('/api/traces?' + q.toString()).then((data) => ({ data: data, fetchMS: performance.now() - t0 }));
  }

  async function showList(loaded, gen) {
    let res;
    try {
      res = await loaded;
    } catch (e) {
      if (gen !== generation) return;
      // A search or range the API refused: say why under the box.
      if (document.getElementById('q-error')) searchError(e);
      else showError(e);
      return;
    }
    if (gen !== generation) return;
    if (res.data.trace_id) {
      // The search named one trace: go straight to it.
      location.replace('#/trace/' + encodeURIComponent(res.data.trace_id));
      return;
    }
    const t1 = performance.now();
    renderList(res.data);
    // Timings for the curious (and the browser test): fetch and DOM build.
    const table = document.getElementById('trace-list');
    table.setAttribute('data-fetch-ms', res.fetchMS.toFixed(1));
    table.setAttribute('data-build-ms', (performance.now() - t1).toFixed(1));
  }

  function renderList(data) {
    const table = document.getElementById('trace-list');
    const summary = document.getElementById('list-summary');
    clear(table);
    clear(summary);
    summary.append(data.matched + ' of ' + data.total + ' traces match' +
      (data.traces.length < data.matched ? ' (newest ' + data.traces.length + ' shown) ' : ''));
    if (data.traces.length < data.matched && data.traces.length < 1000) {
      const params = new URLSearchParams((location.hash.split('?')[1]) || '');
      params.set('limit', '1000');
      summary.append(h('a', { href: '#/traces?' + params.toString(), id: 'show-more' }, 'show up to 1,000'));
    }
    table.appendChild(h('thead', null, h('tr', null,
      h('th', null, 'Time'), h('th', null, 'Service'), h('th', null, 'Request'), h('th', null, 'Status'),
      h('th', { class: 'num' }, 'Duration'), h('th', null, 'Annotations'), h('th', null, 'Trace ID'))));
    const body = h('tbody');
    for (const t of data.traces) {
      const href = '#/trace/' + encodeURIComponent(t.id);
      const req = t.method || t.url ? [t.method || '', ' ', t.url || ''] : '';
      body.appendChild(h('tr', { class: 'trace-row', 'data-trace-id': t.id, 'data-status': t.status },
        h('td', { class: 'nowrap' }, fmtTime(t.start)),
        h('td', null, h('a', { href: href, class: 'trace-link' }, t.service || '(unnamed)')),
        h('td', { class: 'url' }, req),
        h('td', null, statusBadge(t.status), t.http_status ? ' ' + t.http_status : '', t.in_progress ? ' (in progress)' : ''),
        h('td', { class: 'num' }, fmtMS(t.duration_ms)),
        h('td', null, t.annotations.slice(0, 6).map((a) => h('a', { class: 'chip', href: '#/traces?annotation=' + encodeURIComponent(a), title: 'only traces with ' + a }, a))),
        h('td', { class: 'mono' }, h('a', { href: href }, t.id))));
    }
    table.appendChild(body);
    listRenders++;
    table.setAttribute('data-renders', String(listRenders));
    refreshStats();
  }

  // searchError shows what the API could not use in the search box's
  // text, with a caret under the place it points at.
  function searchError(e) {
    const box = document.getElementById('q-error');
    const summary = document.getElementById('list-summary');
    if (summary) clear(summary);
    clear(box);
    box.appendChild(h('span', null, String(e && e.message || e)));
    const q = document.getElementById('f-q').value;
    if (typeof e.offset === 'number' && q) {
      // The offset counts UTF-8 bytes; find the character it falls on.
      const enc = new TextEncoder();
      let i = 0, bytes = 0;
      for (const ch of q) {
        if (bytes >= e.offset) break;
        bytes += enc.encode(ch).length;
        i += ch.length;
      }
      box.appendChild(h('pre', { class: 'caret' }, q + '\n' + ' '.repeat(i) + '^'));
    }
  }

  function filterForm(params, facets) {
    const search = h('input', {
      name: 'q', id: 'f-q', class: 'search', type: 'search', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'Trace ID, trace header, or filter: annotation.cors_code = "preflight-status" AND responsetime > 1',
      title: 'Enter runs it. A trace ID (X-Ray or W3C) or a whole X-Amzn-Trace-Id or traceparent header opens that trace; anything else is an X-Ray filter expression.',
      value: params.get('q') || '',
    });
    const range = h('select', { name: 'since', id: 'f-range', title: 'Time range' },
      [['', 'all time'], ['5m', 'last 5 min'], ['15m', 'last 15 min'], ['1h', 'last hour']].map(([v, l]) => h('option', { value: v }, l)));
    range.value = params.get('since') || '';
    const sort = h('select', { name: 'sort', id: 'f-sort', title: 'Order' },
      [['', 'newest first'], ['time:asc', 'oldest first'], ['duration', 'slowest first'], ['duration:asc', 'fastest first']].map(([v, l]) => h('option', { value: v }, l)));
    sort.value = (params.get('sort') || '') + (params.get('order') === 'asc' ? ':asc' : '');
    if (sort.selectedIndex < 0) sort.value = '';
    const service = h('select', { name: 'service', id: 'f-service' },
      h('option', { value: '' }, 'all services'),
      facets.services.map((f) => h('option', { value: f.name }, f.name + ' (' + f.count + ')')));
    service.value = params.get('service') || '';
    const status = h('select', { name: 'status', id: 'f-status' },
      ['', 'ok', 'error', 'fault', 'throttle'].map((v) => h('option', { value: v }, v || 'any status')));
    status.value = params.get('status') || '';
    const keys = h('datalist', { id: 'annotation-keys' }, facets.annotations.map((f) => h('option', { value: f.name })));
    const ann = h('input', { name: 'annotation', id: 'f-annotation', list: 'annotation-keys', placeholder: 'annotation key=value', value: params.get('annotation') || '' });
    const minMS = h('input', { name: 'min_ms', id: 'f-min', type: 'number', min: '0', placeholder: 'min ms', value: params.get('min_ms') || '' });
    const maxMS = h('input', { name: 'max_ms', id: 'f-max', type: 'number', min: '0', placeholder: 'max ms', value: params.get('max_ms') || '' });
    return h('form', {
      id: 'filters', class: 'filters',
      onsubmit: (ev) => {
        ev.preventDefault();
        const q = new URLSearchParams();
        if (search.value.trim()) q.set('q', search.value.trim());
        if (range.value) q.set('since', range.value);
        if (sort.value) {
          const [by, order] = sort.value.split(':');
          q.set('sort', by);
          if (order) q.set('order', order);
        }
        for (const [k, el] of [['service', service], ['status', status], ['annotation', ann], ['min_ms', minMS], ['max_ms', maxMS]]) {
          if (el.value) q.set(k, el.value);
        }
        const next = '#/traces' + (q.toString() ? '?' + q.toString() : '');
        if (location.hash === next) route(); else location.hash = next;
      },
    }, h('div', { class: 'search-row' }, search, range, sort),
    h('div', { id: 'q-error', class: 'err', role: 'alert' }),
    service, status, ann, keys, minMS, maxMS, h('button', { type: 'submit', id: 'f-apply' }, 'Filter'),
    h('a', { href: '#/traces', class: 'reset' }, 'reset'));
  }

  // ---- one trace --------------------------------------------------------

  async function traceView(id, gen) {
    let t;
    try {
      t = await api('/api/traces/' + encodeURIComponent(id));
    } catch (e) {
      if (gen === generation) showError(e);
      return;
    }
    if (gen !== generation) return;
    clear(main);
    const rows = [];
    (function flatten(nodes, depth) {
      for (const n of nodes) {
        rows.push({ n: n, depth: depth });
        if (n.subsegments) flatten(n.subsegments, depth + 1);
      }
    })(t.segments, 0);
    let t0 = Infinity, t1 = -Infinity;
    for (const r of rows) {
      t0 = Math.min(t0, r.n.start_time);
      t1 = Math.max(t1, r.n.end_time || r.n.start_time);
    }
    const span = Math.max(t1 - t0, 1e-6);

    main.appendChild(h('div', { class: 'trace-head' },
      h('a', { href: '#/traces', class: 'back' }, '← all traces'),
      h('h2', null, t.service || '(unnamed)', ' ', statusBadge(t.status)),
      h('p', { class: 'mono' }, t.id),
      h('p', { class: 'muted' }, fmtTime(t.start), ' · ', fmtMS(t.duration_ms), ' · ', String(rows.length), ' segments and subsegments',
        t.in_progress ? ' · in progress' : '')));

    const detail = h('section', { id: 'node-detail', class: 'detail' });
    const wf = h('div', { id: 'waterfall', class: 'waterfall' });
    wf.appendChild(h('div', { class: 'wf-axis' }, h('span', { class: 'wf-label' }, 'Name'),
      h('span', { class: 'wf-track' }, axisTicks(span))));
    for (const r of rows) {
      const n = r.n;
      const st = nodeStatus(n);
      const end = n.end_time || t1;
      const bar = h('div', { class: 'bar st-' + st + (n.in_progress ? ' in-progress' : '') });
      bar.style.left = ((n.start_time - t0) / span * 100).toFixed(3) + '%';
      bar.style.width = Math.max((end - n.start_time) / span * 100, 0.3).toFixed(3) + '%';
      const label = h('span', { class: 'wf-label' }, h('span', { class: 'wf-name' }, n.name),
        n.namespace ? h('span', { class: 'ns' }, n.namespace) : null,
        n.cause ? h('span', { class: 'badge st-' + st }, '!') : null);
      label.style.paddingLeft = (r.depth * 14 + 4) + 'px';
      const row = h('div', {
        class: 'wf-row', tabindex: '0', 'data-id': n.id, title: n.name,
        onclick: () => select(row, n),
        onkeydown: (ev) => { if (ev.key === 'Enter') select(row, n); },
      }, label, h('span', { class: 'wf-track' }, bar, h('span', { class: 'wf-dur' }, n.end_time ? fmtMS((n.end_time - n.start_time) * 1000) : 'in progress')));
      wf.appendChild(row);
    }
    main.appendChild(wf);

    // Every exception in the trace, without a click.
    const faults = rows.filter((r) => isObject(r.n.cause) && r.n.cause.exceptions !== undefined &&
      !(Array.isArray(r.n.cause.exceptions) && r.n.cause.exceptions.length === 0));
    if (faults.length) {
      const sec = h('section', { id: 'exceptions', class: 'exceptions' }, h('h3', null, 'Exceptions'));
      for (const r of faults) sec.appendChild(h('div', null, h('h4', null, r.n.name), guarded('cause', r.n.cause, causeView)));
      main.appendChild(sec);
    }
    main.appendChild(detail);
    function select(row, n) {
      for (const el of wf.querySelectorAll('.wf-row.selected')) el.classList.remove('selected');
      row.classList.add('selected');
      clear(detail);
      detail.appendChild(guarded('segment ' + n.id, n, nodeDetail));
    }
    const first = rows.find((r) => r.n.cause) || rows[0];
    if (first) select(wf.querySelector('.wf-row[data-id="' + CSS.escape(first.n.id) + '"]') || wf.children[1], first.n);
  }

  function axisTicks(span) {
    const out = [];
    for (let i = 0; i <= 4; i++) {
      const tick = h('span', { class: 'tick' }, fmtMS(span * 1000 * i / 4));
      tick.style.left = (i * 25) + '%';
      out.push(tick);
    }
    return out;
  }

  function nodeStatus(n) {
    if (n.fault) return 'fault';
    if (n.throttle) return 'throttle';
    if (n.error) return 'error';
    return 'ok';
  }

  function kvTable(obj, cls) {
    const t = h('table', { class: 'kv ' + (cls || '') });
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      t.appendChild(h('tr', null, h('th', null, k),
        h('td', null, v !== null && typeof v === 'object' ? h('pre', null, JSON.stringify(v, null, 2)) : String(v))));
    }
    return t;
  }

  function nodeDetail(n) {
    const parts = [h('h3', null, n.name, ' ', statusBadge(nodeStatus(n))),
      kvTable(Object.assign({ id: n.id, start: fmtTime(n.start_time), duration: n.end_time ? fmtMS((n.end_time - n.start_time) * 1000) : 'in progress' },
        n.namespace ? { namespace: n.namespace } : {}, n.origin ? { origin: n.origin } : {},
        n.parent_id ? { parent_id: n.parent_id } : {}, n.attached ? { sent: 'as its own document' } : {}), 'meta')];
    if (isObject(n.http)) {
      const flat = {};
      for (const part of ['request', 'response']) {
        if (isObject(n.http[part])) for (const k of Object.keys(n.http[part])) flat[part + '.' + k] = n.http[part][k];
        else if (n.http[part] !== undefined) flat[part] = n.http[part];
      }
      parts.push(h('h4', null, 'HTTP'), kvTable(flat, 'http'));
    } else if (n.http !== undefined) {
      parts.push(h('h4', null, 'HTTP'), h('p', null, invalid('http', n.http)));
    }
    if (isObject(n.annotations)) parts.push(h('h4', null, 'Annotations'), kvTable(n.annotations, 'annotations'));
    else if (n.annotations !== undefined) parts.push(h('h4', null, 'Annotations'), h('p', null, invalid('annotations', n.annotations)));
    if (n.metadata) parts.push(h('h4', null, 'Metadata'), h('pre', { class: 'metadata' }, JSON.stringify(n.metadata, null, 2)));
    if (n.aws) parts.push(h('h4', null, 'AWS'), h('pre', null, JSON.stringify(n.aws, null, 2)));
    if (n.sql) parts.push(h('h4', null, 'SQL'), h('pre', null, JSON.stringify(n.sql, null, 2)));
    if (n.cause !== undefined) parts.push(h('h4', null, 'Cause'), guarded('cause', n.cause, causeView));
    return h('div', null, parts);
  }

  // causeView shows a cause: an exception ID (string) or an object with
  // working_directory, paths and exceptions, each with type, message,
  // stack frames (label, path, line), remote and truncated. Values of the
  // wrong type are shown, marked invalid; they never hide the valid ones.
  function causeView(c) {
    if (typeof c === 'string') return h('p', null, 'Exception ', h('span', { class: 'mono' }, c), ' (recorded on another subsegment)');
    if (!isObject(c)) return h('p', null, invalid('cause', c));
    const out = h('div', { class: 'cause' });
    if (c.working_directory !== undefined) {
      out.appendChild(h('p', { class: 'muted' }, typeof c.working_directory === 'string' ? ['in ', c.working_directory] : invalid('working_directory', c.working_directory)));
    }
    if (c.exceptions === undefined) return out;
    if (!Array.isArray(c.exceptions)) {
      out.appendChild(h('p', null, invalid('exceptions', c.exceptions)));
      return out;
    }
    for (const ex of c.exceptions) out.appendChild(guarded('exception', ex, exceptionView));
    return out;
  }

  function exceptionView(ex) {
    if (!isObject(ex)) return h('div', { class: 'exception' }, invalid('exception', ex));
    const str = (name) => ex[name] === undefined || typeof ex[name] === 'string' ? ex[name] || '' : invalid(name, ex[name]);
    const head = h('p', { class: 'ex-head' }, h('strong', null, ex.type === undefined ? 'error' : str('type')), ': ', str('message'),
      ex.remote ? ' (remote)' : '');
    let stack = null;
    if (Array.isArray(ex.stack)) {
      if (ex.stack.length) stack = h('ol', { class: 'stack' }, ex.stack.map((f) => guarded('stack frame', f, frameView)));
    } else if (ex.stack !== undefined) {
      stack = h('p', null, invalid('stack', ex.stack));
    }
    return h('div', { class: 'exception' }, head, stack,
      ex.truncated ? h('p', { class: 'muted' }, typeof ex.truncated === 'number' ? ex.truncated + ' more frames' : invalid('truncated', ex.truncated)) : null);
  }

  function frameView(f) {
    if (!isObject(f)) return h('li', null, invalid('stack frame', f));
    const label = f.label === undefined || typeof f.label === 'string' ? f.label || '?' : invalid('label', f.label);
    const path = f.path === undefined || typeof f.path === 'string' ? f.path || '' : invalid('path', f.path);
    const line = f.line === undefined ? '' : typeof f.line === 'number' ? ':' + f.line : [' ', invalid('line', f.line)];
    return h('li', null, h('span', { class: 'label' }, label), ' ', h('span', { class: 'muted' }, path, line));
  }

  // ---- service map ------------------------------------------------------

  async function mapView(gen) {
    let m;
    try {
      m = await api('/api/servicemap');
    } catch (e) {
      if (gen === generation) showError(e);
      return;
    }
    if (gen !== generation) return;
    clear(main);
    main.appendChild(h('h2', null, 'Service map'));
    main.appendChild(h('p', { class: 'muted' }, 'Built from ' + m.traces + ' traces.'));
    if (!m.nodes.length) {
      main.appendChild(h('p', null, 'No traces yet.'));
      return;
    }
    // Layered layout: a node's column is its longest distance from a source.
    const col = new Map(m.nodes.map((n) => [n.name, 0]));
    for (let i = 0; i < m.nodes.length; i++) {
      let changed = false;
      for (const e of m.edges) {
        if (e.from !== e.to && col.get(e.to) < col.get(e.from) + 1 && col.get(e.from) + 1 < m.nodes.length) {
          col.set(e.to, col.get(e.from) + 1);
          changed = true;
        }
      }
      if (!changed) break;
    }
    const columns = [];
    for (const n of m.nodes) {
      const c = col.get(n.name);
      (columns[c] = columns[c] || []).push(n);
    }
    const W = 220, H = 90, pos = new Map();
    columns.forEach((nodes, c) => nodes.forEach((n, r) => pos.set(n.name, { x: 20 + c * W, y: 30 + r * H })));
    const width = 40 + columns.length * W, height = 60 + Math.max(...columns.map((c) => (c || []).length)) * H;
    const svg = s('svg', { id: 'map-svg', class: 'map', viewBox: '0 0 ' + width + ' ' + height, width: width, height: height });
    svg.appendChild(s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '6', markerHeight: '6', orient: 'auto' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }))));
    for (const e of m.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const x1 = a.x + 160, y1 = a.y + 25, x2 = b.x, y2 = b.y + 25;
      svg.appendChild(s('line', { x1: x1, y1: y1, x2: x2, y2: y2, class: 'edge' + (e.error_rate > 0 ? ' bad' : ''), 'marker-end': 'url(#arrow)' },
        s('title', null, e.from + ' → ' + e.to + ': ' + e.count + ' calls, ' + (e.error_rate * 100).toFixed(1) + '% errors')));
      svg.appendChild(s('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, class: 'edge-label' }, e.count + (e.error_rate > 0 ? ' · ' + (e.error_rate * 100).toFixed(0) + '%' : '')));
    }
    for (const n of m.nodes) {
      const p = pos.get(n.name);
      const cls = n.fault_rate > 0 ? 'fault' : n.error_rate > 0 ? 'error' : 'ok';
      svg.appendChild(s('g', { class: 'node st-' + cls + ' kind-' + (n.kind || 'service') },
        s('title', null, n.name),
        s('rect', { x: p.x, y: p.y, width: 160, height: 50, rx: n.kind === 'service' ? 8 : 2 }),
        s('text', { x: p.x + 8, y: p.y + 20, class: 'node-name' }, n.name.length > 22 ? n.name.slice(0, 21) + '…' : n.name),
        s('text', { x: p.x + 8, y: p.y + 38, class: 'node-stats' }, n.count + ' · ' + fmtMS(n.avg_ms) + ' · ' + (n.error_rate * 100).toFixed(0) + '% err')));
    }
    main.appendChild(h('div', { class: 'map-wrap' }, svg));
    main.appendChild(h('h3', null, 'Nodes'));
    main.appendChild(h('table', { class: 'list', id: 'map-nodes' },
      h('thead', null, h('tr', null, ['Name', 'Kind', 'Count', 'Error rate', 'Fault rate', 'Avg'].map((x) => h('th', null, x)))),
      h('tbody', null, m.nodes.map((n) => h('tr', null, h('td', null, h('a', { href: '#/traces?service=' + encodeURIComponent(n.name) }, n.name)), h('td', null, n.kind),
        h('td', { class: 'num' }, String(n.count)), h('td', { class: 'num' }, (n.error_rate * 100).toFixed(1) + '%'),
        h('td', { class: 'num' }, (n.fault_rate * 100).toFixed(1) + '%'), h('td', { class: 'num' }, fmtMS(n.avg_ms)))))));
    main.appendChild(h('h3', null, 'Edges'));
    main.appendChild(h('table', { class: 'list', id: 'map-edges' },
      h('thead', null, h('tr', null, ['From', 'To', 'Calls', 'Error rate', 'Avg'].map((x) => h('th', null, x)))),
      h('tbody', null, m.edges.map((e) => h('tr', null, h('td', null, e.from), h('td', null, e.to), h('td', { class: 'num' }, String(e.count)),
        h('td', { class: 'num' }, (e.error_rate * 100).toFixed(1) + '%'), h('td', { class: 'num' }, fmtMS(e.avg_ms)))))));
  }

  // ---- metrics ----------------------------------------------------------

  async function metricsView(params, gen) {
    const q = new URLSearchParams();
    if (params.get('bucket')) q.set('bucket', params.get('bucket'));
    let m;
    try {
      m = await api('/api/metrics?' + q.toString());
    } catch (e) {
      if (gen === generation) showError(e);
      return;
    }
    if (gen !== generation) return;
    clear(main);
    main.appendChild(h('h2', null, 'Metrics'));
    main.appendChild(h('p', { class: 'muted' }, m.series.length + ' series from EMF · ' + m.bucket_seconds + ' s buckets. ' +
      'Latency metrics show p50, p90 and p99; counts show the sum per bucket. Click a point for its traces.'));
    main.appendChild(metricsForm(params, m.series));
    const ns = params.get('namespace') || '', metric = params.get('metric') || '', dimText = (params.get('dim') || '').toLowerCase();
    const shown = m.series.filter((se) => (!ns || se.namespace === ns) && (!metric || se.name === metric) &&
      (!dimText || se.dimensions.some((d) => (d.key + '=' + d.value).toLowerCase().includes(dimText))));
    const linked = h('section', { id: 'point-traces', class: 'detail' });
    const grid = h('div', { class: 'charts', id: 'charts' });
    for (const se of shown) grid.appendChild(chart(se, m.bucket_seconds, linked));
    if (!shown.length) grid.appendChild(h('p', { class: 'muted' }, m.series.length ? 'No series match.' : 'No EMF received yet.'));
    main.append(grid, linked);
  }

  function metricsForm(params, series) {
    const uniq = (xs) => [...new Set(xs)].sort();
    const select = (name, label, values) => {
      const el = h('select', { name: name, id: 'm-' + name }, h('option', { value: '' }, label), values.map((v) => h('option', { value: v }, v)));
      el.value = params.get(name) || '';
      return el;
    };
    const ns = select('namespace', 'all namespaces', uniq(series.map((se) => se.namespace)));
    const metric = select('metric', 'all metrics', uniq(series.map((se) => se.name)));
    const bucket = h('select', { name: 'bucket', id: 'm-bucket' }, [['', 'auto buckets'], ['1', '1 s'], ['10', '10 s'], ['60', '1 min'], ['300', '5 min'], ['3600', '1 h']]
      .map(([v, l]) => h('option', { value: v }, l)));
    bucket.value = params.get('bucket') || '';
    const dim = h('input', { name: 'dim', id: 'm-dim', placeholder: 'dimension contains…', value: params.get('dim') || '' });
    return h('form', {
      class: 'filters', id: 'metric-filters',
      onsubmit: (ev) => {
        ev.preventDefault();
        const q = new URLSearchParams();
        for (const el of [ns, metric, bucket, dim]) if (el.value) q.set(el.name, el.value);
        location.hash = '#/metrics' + (q.toString() ? '?' + q.toString() : '');
      },
    }, ns, metric, dim, bucket, h('button', { type: 'submit' }, 'Show'));
  }

  function chart(se, bucketSec, linked) {
    const W = 420, H = 160, L = 52, R = 10, B = 22, T = 10;
    const pts = se.points;
    const latency = se.kind === 'latency';
    const keys = latency ? ['p50', 'p90', 'p99'] : ['sum'];
    const bucketMS = bucketSec * 1000;
    let lo = Infinity, hi = -Infinity, ymax = 0;
    for (const p of pts) {
      lo = Math.min(lo, p.t);
      hi = Math.max(hi, p.t + bucketMS);
      for (const k of keys) ymax = Math.max(ymax, p[k]);
    }
    if (ymax <= 0) ymax = 1;
    const xspan = Math.max(hi - lo, bucketMS);
    const slot = (W - L - R) * bucketMS / xspan; // width of one bucket
    const x = (t) => L + (t - lo) / xspan * (W - L - R) + slot / 2; // bucket centre
    const y = (v) => H - B - v / ymax * (H - B - T);
    const svg = s('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H });
    svg.appendChild(s('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }));
    svg.appendChild(s('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }));
    svg.appendChild(s('text', { x: L - 6, y: T + 4, class: 'ylabel' }, fmtNum(ymax)));
    svg.appendChild(s('text', { x: L - 6, y: H - B, class: 'ylabel' }, '0'));
    svg.appendChild(s('text', { x: L, y: H - 6, class: 'xlabel' }, fmtTime(lo / 1000)));
    svg.appendChild(s('text', { x: W - R, y: H - 6, class: 'xlabel end' }, fmtTime(hi / 1000)));
    if (latency) {
      keys.forEach((k, i) => {
        svg.appendChild(s('polyline', { class: 'line l' + i, points: pts.map((p) => x(p.t).toFixed(1) + ',' + y(p[k]).toFixed(1)).join(' ') }));
        for (const p of pts) svg.appendChild(s('circle', { cx: x(p.t), cy: y(p[k]), r: 2, class: 'dot l' + i }));
      });
    } else {
      const bw = Math.max(2, Math.min(40, slot * 0.8));
      for (const p of pts) svg.appendChild(s('rect', { x: x(p.t) - bw / 2, y: y(p.sum), width: bw, height: H - B - y(p.sum), class: 'barv' }));
    }
    // One target per bucket, at its highest value, that lists its traces.
    for (const p of pts) {
      svg.appendChild(s('circle', {
        cx: x(p.t), cy: y(latency ? p.p99 : p.sum), r: p.trace_ids.length ? 5 : 4,
        class: 'pt' + (p.trace_ids.length ? ' linked' : ''), tabindex: '0',
        onclick: () => showPoint(se, p, linked),
        onkeydown: (ev) => { if (ev.key === 'Enter') showPoint(se, p, linked); },
      }, s('title', null, fmtTime(p.t / 1000) + ': ' + (latency
        ? 'p50 ' + fmtNum(p.p50) + ', p90 ' + fmtNum(p.p90) + ', p99 ' + fmtNum(p.p99)
        : 'sum ' + fmtNum(p.sum) + ' (' + fmtNum(p.sum / bucketSec) + '/s)') + ' · ' + p.n + ' values, ' + p.trace_ids.length + ' traces')));
    }
    const dims = se.dimensions.map((d) => d.key + '=' + d.value).join(', ');
    return h('figure', { class: 'chart-card', 'data-metric': se.name },
      h('figcaption', null, h('strong', null, se.name), se.unit ? ' (' + se.unit + ')' : '', ' ', h('span', { class: 'muted' }, se.namespace),
        dims ? h('div', { class: 'dims' }, dims) : null,
        latency ? h('div', { class: 'legend' }, h('span', { class: 'k l0' }, 'p50'), h('span', { class: 'k l1' }, 'p90'), h('span', { class: 'k l2' }, 'p99'))
          : h('div', { class: 'legend muted' }, 'sum per ' + bucketSec + ' s')),
      svg);
  }

  function showPoint(se, p, linked) {
    clear(linked);
    linked.appendChild(h('h3', null, se.name, ' at ', fmtTime(p.t / 1000)));
    linked.appendChild(kvTable({ values: p.n, sum: fmtNum(p.sum), min: fmtNum(p.min), max: fmtNum(p.max), p50: fmtNum(p.p50), p90: fmtNum(p.p90), p99: fmtNum(p.p99) }));
    linked.appendChild(p.trace_ids.length
      ? h('ul', { class: 'linked-traces' }, p.trace_ids.map((id) => h('li', null, h('a', { href: '#/trace/' + encodeURIComponent(id), class: 'mono' }, id))))
      : h('p', { class: 'muted' }, 'No trace IDs were carried with these values.'));
  }

  // Live mode reloads the current view every 5 s, except a single trace
  // (which does not change once complete) and while a filter is being edited.
  const live = document.getElementById('live');
  live.checked = sessionStorage.getItem('sidelight-live') === '1';
  live.addEventListener('change', () => sessionStorage.setItem('sidelight-live', live.checked ? '1' : '0'));
  setInterval(() => {
    const editing = document.activeElement && main.contains(document.activeElement) &&
      ['INPUT', 'SELECT'].includes(document.activeElement.tagName);
    if (live.checked && !editing && !(location.hash || '').startsWith('#/trace/')) route();
  }, 5000);

  window.addEventListener('hashchange', route);
  route();
})();
