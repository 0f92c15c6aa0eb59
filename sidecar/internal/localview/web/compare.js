// Sidelight local view: the compare page (#/compare). Two versions of a
// service, or two time windows, side by side per route, with the verdict
// that /api/compare computes server-side. Plain JavaScript, no build step.
//
// As in app.js, telemetry is only ever placed in the page as text nodes or
// attribute values set with setAttribute. Never innerHTML.
'use strict';

(function () {
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v === undefined || v === null || v === false) continue;
        if (typeof v === 'function') e.addEventListener(k.replace(/^on/, ''), v);
        else if (k === 'value') e.value = String(v);
        else if (k === 'href' && !String(v).startsWith('#')) throw new Error('refusing external link');
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }
  async function api(path) {
    const r = await fetch(path, { headers: { Accept: 'application/json' } });
    const body = await r.json();
    if (!r.ok) throw new Error(body && body.error ? body.error : r.statusText);
    return body;
  }
  function fmtMS(ms) {
    if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
    if (ms >= 10) return ms.toFixed(0) + ' ms';
    return ms.toFixed(1) + ' ms';
  }
  function fmtPct(r) { return (100 * r).toFixed(1) + '%'; }
  function fmtRate(r) { return r >= 10 ? r.toFixed(0) + '/s' : r.toFixed(2) + '/s'; }
  function fmtTime(sec) {
    const d = new Date(sec * 1000);
    const p2 = (n) => (n < 10 ? '0' : '') + n;
    return p2(d.getHours()) + ':' + p2(d.getMinutes()) + ':' + p2(d.getSeconds());
  }
  function fmtP(p) { return p < 0.0001 ? 'p < 0.0001' : 'p = ' + p.toFixed(4); }

  const sideKeys = ['', '_since', '_until'];

  // show renders the page into main; current() turns false once the user
  // has left it (a late answer is then dropped).
  async function show(main, params, current, refresh) {
    let deps;
    try {
      deps = await api('/api/deployments');
    } catch (e) {
      if (current()) showError(main, e);
      return;
    }
    if (!current()) return;
    const byService = new Map();
    for (const d of deps.deployments) {
      if (!byService.has(d.service)) byService.set(d.service, []);
      byService.get(d.service).push(d);
    }
    // Defaults: the newest deployment that has a version before it.
    const q = new URLSearchParams(params);
    if (!q.get('service') && deps.deployments.length) {
      let newest = null;
      for (const d of deps.deployments) {
        if (d.previous && (!newest || d.first_seen > newest.first_seen)) newest = d;
      }
      newest = newest || deps.deployments[deps.deployments.length - 1];
      q.set('service', newest.service);
      if (newest.previous && !q.get('baseline') && !q.get('candidate')) {
        q.set('baseline', newest.previous);
        q.set('candidate', newest.version);
      }
    }
    // A live refresh keeps the form as the user left it and replaces the
    // result and the deployments in place once the new answer is in.
    const keep = refresh && document.getElementById('cmp-result');
    let status, out;
    if (keep) {
      status = document.getElementById('cmp-status');
      out = document.getElementById('cmp-result');
      const old = document.getElementById('cmp-deploys');
      old.replaceWith(deploymentList(q.get('service'), byService.get(q.get('service')) || [], deps));
    } else {
      clear(main);
      const form = compareForm(q, byService);
      status = h('p', { id: 'cmp-status', class: 'muted' });
      out = h('div', { id: 'cmp-result' });
      main.append(h('h2', { class: 'cmp-title' }, 'Compare versions'), form, status, out);
      main.appendChild(deploymentList(q.get('service'), byService.get(q.get('service')) || [], deps));
    }
    const ready = q.get('service') && ['baseline', 'candidate'].some((s) => sideKeys.some((k) => q.get(s + k)));
    if (!ready) {
      status.textContent = deps.deployments.length
        ? 'Pick a service and two versions (or two time windows) to compare.'
        : 'No versions seen yet: segments carry one in their Version annotation or service.version.';
      return;
    }
    const aq = new URLSearchParams();
    for (const k of ['service', 'min_requests', 'alpha']) if (q.get(k)) aq.set(k, q.get(k));
    for (const s of ['baseline', 'candidate']) for (const k of sideKeys) if (q.get(s + k)) aq.set(s + k, q.get(s + k));
    if (!keep) status.textContent = 'Comparing…';
    const t0 = performance.now();
    let res;
    try {
      res = await api('/api/compare?' + aq.toString());
    } catch (e) {
      if (current()) { status.textContent = ''; out.appendChild(h('p', { class: 'err', id: 'cmp-error' }, String(e.message || e))); }
      return;
    }
    if (!current()) return;
    const fetchMS = performance.now() - t0;
    const t1 = performance.now();
    renderResult(out, status, res, q);
    out.setAttribute('data-fetch-ms', fetchMS.toFixed(1));
    out.setAttribute('data-build-ms', (performance.now() - t1).toFixed(1));
  }

  function showError(main, e) {
    clear(main);
    main.appendChild(h('p', { class: 'err' }, 'Could not load: ', String(e && e.message || e)));
  }

  function compareForm(q, byService) {
    const service = h('select', { name: 'service', id: 'cmp-service' },
      h('option', { value: '' }, 'service…'),
      [...byService.keys()].map((s) => h('option', { value: s }, s)));
    if (q.get('service') && !byService.has(q.get('service'))) service.appendChild(h('option', { value: q.get('service') }, q.get('service')));
    service.value = q.get('service') || '';
    const versions = (byService.get(q.get('service')) || []).map((d) => d.version);
    function sideFields(side, label) {
      const sel = h('select', { name: side, id: 'cmp-' + side },
        h('option', { value: '' }, 'any version'),
        versions.map((v) => h('option', { value: v }, v)));
      if (q.get(side) && !versions.includes(q.get(side))) sel.appendChild(h('option', { value: q.get(side) }, q.get(side)));
      sel.value = q.get(side) || '';
      const since = h('input', { name: side + '_since', id: 'cmp-' + side + '-since', placeholder: 'since (15m, RFC 3339)', value: q.get(side + '_since') || '', size: 14 });
      const until = h('input', { name: side + '_until', id: 'cmp-' + side + '-until', placeholder: 'until', value: q.get(side + '_until') || '', size: 10 });
      return { sel, since, until, row: h('div', { class: 'cmp-side' }, h('strong', null, label), sel, since, until) };
    }
    const b = sideFields('baseline', 'Baseline'), c = sideFields('candidate', 'Candidate');
    const minReq = h('input', { name: 'min_requests', id: 'cmp-min-requests', type: 'number', min: '2', placeholder: 'min requests', value: q.get('min_requests') || '' });
    service.addEventListener('change', () => {
      location.hash = '#/compare?service=' + encodeURIComponent(service.value);
    });
    return h('form', {
      id: 'cmp-form', class: 'filters',
      onsubmit: (ev) => {
        ev.preventDefault();
        const n = new URLSearchParams();
        if (service.value) n.set('service', service.value);
        for (const [side, f] of [['baseline', b], ['candidate', c]]) {
          if (f.sel.value) n.set(side, f.sel.value);
          if (f.since.value.trim()) n.set(side + '_since', f.since.value.trim());
          if (f.until.value.trim()) n.set(side + '_until', f.until.value.trim());
        }
        if (minReq.value) n.set('min_requests', minReq.value);
        const next = '#/compare?' + n.toString();
        if (location.hash === next) window.dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = next;
      },
    }, service, b.row, c.row, minReq, h('button', { type: 'submit', id: 'cmp-apply' }, 'Compare'));
  }

  function deploymentList(service, list, deps) {
    const box = h('div', { id: 'cmp-deploys', class: 'cmp-deploys' },
      h('h3', null, 'Deployments', service ? ' of ' + service : ''));
    if (!list.length) {
      box.appendChild(h('p', { class: 'muted' }, 'No versions of this service seen.'));
      return box;
    }
    const ul = h('ul');
    for (const d of list.slice().reverse()) {
      ul.appendChild(h('li', { class: 'deploy', 'data-version': d.version },
        h('span', { class: 'mono' }, fmtTime(d.first_seen)), ' ', h('strong', null, d.version), ' first seen',
        d.previous ? [' after ', d.previous, ' · ', h('a', {
          href: '#/compare?' + new URLSearchParams({ service: d.service, baseline: d.previous, candidate: d.version }).toString(),
          class: 'deploy-compare',
        }, 'compare with ' + d.previous)] : '',
        h('span', { class: 'muted' }, ' · last seen ' + fmtTime(d.last_seen) + ' · ' + d.segments + ' segments')));
    }
    box.appendChild(ul);
    if (deps.dropped) box.appendChild(h('p', { class: 'muted' }, deps.dropped + ' older markers dropped (at most ' + deps.max + ' kept).'));
    return box;
  }

  function tracesLink(res, side, route, label) {
    const s = side === 'baseline' ? res.baseline_side : res.candidate_side;
    const p = new URLSearchParams({ service: res.service, route: route });
    if (s.version) p.set('version', s.version);
    if (s.since) p.set('since', s.since);
    if (s.until) p.set('until', s.until);
    return h('a', { href: '#/traces?' + p.toString(), class: 'cmp-traces ' + side, title: 'example traces of ' + label + ' on ' + route }, 'traces');
  }

  function renderResult(out, status, res, q) {
    clear(out);
    const counts = { pass: 0, fail: 0, not_enough_data: 0 };
    for (const r of res.routes) counts[r.verdict] = (counts[r.verdict] || 0) + 1;
    status.textContent = '';
    const bl = res.baseline || 'baseline', cl = res.candidate || 'candidate';
    out.appendChild(h('p', { id: 'cmp-verdict', class: 'cmp-verdict v-' + res.verdict, 'data-verdict': res.verdict },
      'Verdict: ', h('span', { class: 'vbadge v-' + res.verdict }, res.verdict.replace(/_/g, ' ')),
      ' — ' + res.routes.length + ' routes: ' + counts.fail + ' fail, ' + counts.pass + ' pass, ' + counts.not_enough_data + ' not enough data. ',
      h('span', { class: 'muted' }, 'Baseline ' + bl + ': ' + res.baseline_side.requests + ' requests; candidate ' + cl + ': ' + res.candidate_side.requests + ' requests.')));
    out.appendChild(h('p', { id: 'cmp-method', class: 'cmp-method' }, res.method));
    out.appendChild(h('p', { id: 'cmp-min', class: 'cmp-method' },
      'Minimum sample size: ', h('strong', { id: 'cmp-min-n' }, String(res.min_requests)),
      ' requests per side on a route (alpha ' + res.config.alpha + ', each test at alpha/3). Rates are over the time between each side\'s first and last request.'));
    const head1 = h('tr', null, h('th', { rowspan: 2 }, 'Route'), h('th', { rowspan: 2 }, 'Verdict'),
      h('th', { colspan: 7, class: 'grp base' }, 'Baseline · ' + bl), h('th', { colspan: 7, class: 'grp cand' }, 'Candidate · ' + cl));
    const cols = ['Rate (n)', 'Errors', 'Faults', 'p50', 'p90', 'p99', ''];
    const head2 = h('tr', null, cols.map((c) => h('th', { class: 'num base' }, c)), cols.map((c) => h('th', { class: 'num cand' }, c)));
    const body = h('tbody');
    for (const r of res.routes) {
      const why = [];
      for (const [name, t] of [['latency', r.latency], ['faults', r.faults], ['errors', r.errors]]) {
        if (t && t.worse) why.push(name + ' ' + fmtP(t.p));
      }
      const cells = (sum, rate, other, side, label) => [
        h('td', { class: 'num', 'data-k': 'rate' }, fmtRate(rate), h('span', { class: 'muted' }, ' (' + sum.requests + ')')),
        h('td', { class: 'num' + (side === 'cand' && r.errors && r.errors.worse ? ' worse' : ''), 'data-k': 'error_rate' }, fmtPct(sum.error_rate)),
        h('td', { class: 'num' + (side === 'cand' && r.faults && r.faults.worse ? ' worse' : ''), 'data-k': 'fault_rate' }, fmtPct(sum.fault_rate)),
        ['p50_ms', 'p90_ms', 'p99_ms'].map((k) => h('td', { class: 'num' + (side === 'cand' && r.latency && r.latency.worse && sum[k] > other[k] ? ' worse' : ''), 'data-k': k }, sum.requests ? fmtMS(sum[k]) : '–')),
        h('td', null, sum.requests ? tracesLink(res, side === 'base' ? 'baseline' : 'candidate', r.route, label) : ''),
      ];
      body.appendChild(h('tr', { class: 'cmp-row', 'data-route': r.route, 'data-verdict': r.verdict },
        h('td', { class: 'route mono' }, r.route || '(no route)'),
        h('td', { class: 'verdict', title: why.join(', ') || 'no test found the candidate worse' },
          h('span', { class: 'vbadge v-' + r.verdict }, r.verdict.replace(/_/g, ' ')),
          why.length ? h('div', { class: 'why' }, why.join(', ')) : ''),
        cells(r.baseline, r.baseline_rps, r.candidate, 'base', bl),
        cells(r.candidate, r.candidate_rps, r.baseline, 'cand', cl)));
    }
    const table = h('table', { id: 'cmp-table', class: 'list cmp' }, h('thead', null, head1, head2), body);
    if (!res.routes.length) {
      out.appendChild(h('p', { class: 'muted', id: 'cmp-empty' }, 'The candidate served no requests of ' + res.service + ' in what was selected.'));
    }
    out.appendChild(table);
  }

  // app.js routes #/compare here (the page's scripts are one bundle,
  // handler.go's viewScripts).
  const SL = window.Sidelight;
  SL.views['/compare'] = (params, gen, refresh) => show(SL.main, params, () => gen === SL.current(), refresh);
})();
