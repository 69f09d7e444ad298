// Draws the timeline embedded as JSON in #timeline-data (written by tcpnotify-sim's
// timeline module). Rows are rebuilt whole on every fold, page or zoom: only unfolded lanes
// are in the DOM, so a 1,000-connection run stays small. Nothing here reads a clock or a
// random source, and nothing is fetched.
//
// URL hash parameters, for links and tests: zoom=N, unfold=all, lane=NAME, line=N.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("timeline-data").textContent);
  const LABEL = 190; // label column, px
  const PAGE = 50; // lanes of an open group shown at a time (a page of them)
  const BINS = 240; // columns of a folded group's activity
  const TITLE_LINES = 12; // trace lines in a mark's tooltip
  const MAX_ZOOM = 4096;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = (tag) => document.createElementNS("http://www.w3.org/2000/svg", tag);
  // The scale runs a little past the last event, so that marks there are drawn whole.
  const SCALE_US = Math.ceil(data.end_us * 1.02) + 1;
  const pct = (us) => (us / SCALE_US) * 100 + "%";
  document.documentElement.style.setProperty("--label", LABEL + "px");

  // Lines are [lane or null, time in µs, name index, text index]; lanes own their lines.
  const laneLines = data.lanes.map(() => []);
  const runLines = [];
  data.lines.forEach((l, i) => (l[0] === null ? runLines : laneLines[l[0]]).push(i));
  const violationsOfLine = new Map();
  data.violations.forEach((v, vi) =>
    v.lines.forEach((n) => violationsOfLine.set(n - 1, (violationsOfLine.get(n - 1) || []).concat(vi))),
  );
  const flaggedLanes = new Set(data.violations.map((v) => v.lane).filter((l) => l !== null));
  const flightFrom = new Map(data.flights.map((f) => [f.from, f]));
  const state = {
    zoom: 1,
    groups: data.groups.map((g) => ({ folded: g.folded, first: 0 })),
    selected: new Set(),
  };

  function fmtTime(us) {
    return String(Math.floor(us / 1000)).padStart(6, " ") + "." + String(us % 1000).padStart(3, "0") + "ms";
  }
  // The trace line exactly as the text trace prints it.
  function lineText(i) {
    const [lane, at, , text] = data.lines[i];
    const who = lane === null ? "" : data.lanes[lane].host + " " + data.lanes[lane].name + " ";
    return fmtTime(at) + " " + who + data.texts[text];
  }
  const nameOf = (i) => data.names[data.lines[i][2]];
  const timeOf = (i) => data.lines[i][1];
  const cssName = (name) => name.replace(/\./g, "-");

  function affects(span, lane) {
    return span.all || (span.hosts && span.hosts.includes(data.lanes[lane].host)) || (span.lanes && span.lanes.includes(lane));
  }

  function trackWidth() {
    return Math.max(200, $("scroller").clientWidth - LABEL - 2) * state.zoom;
  }

  function row(cls, label, title) {
    const r = el("div", "row " + cls);
    const l = el("div", "label", label);
    if (title) l.title = title;
    const t = el("div", "track");
    t.style.width = trackWidth() + "px";
    r.append(l, t);
    return [r, t];
  }

  function spanBox(cls, span) {
    const s = el("div", cls + " k-" + span.kind);
    s.style.left = pct(span.from);
    s.style.width = pct(span.to - span.from);
    s.title = span.label + " (" + fmtTime(span.from).trim() + " to " + fmtTime(span.to).trim() + ")";
    return s;
  }

  // Marks for `lines` (one lane's, in order): lines at the same time share one mark.
  function addMarks(track, lines) {
    for (let i = 0; i < lines.length; ) {
      let j = i + 1;
      while (j < lines.length && timeOf(lines[j]) === timeOf(lines[i])) j++;
      const group = lines.slice(i, j);
      const m = el("div", "mark c-" + cssName(nameOf(group[0])));
      if (group.some((n) => violationsOfLine.has(n))) m.classList.add("violation");
      m.style.left = pct(timeOf(group[0]));
      m.dataset.lines = group.map((n) => n + 1).join(" ");
      const shown = group.slice(0, TITLE_LINES).map(lineText);
      if (group.length > TITLE_LINES) shown.push("... and " + (group.length - TITLE_LINES) + " more");
      m.title = shown.join("\n");
      m.addEventListener("click", (e) => {
        e.stopPropagation();
        select(group);
      });
      track.appendChild(m);
      i = j;
    }
  }

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    return [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) || 10 * p;
  }

  function axisRow() {
    const [r, t] = row("axis", "simulated time");
    const step = Math.max(1, niceStep((SCALE_US / trackWidth()) * 110));
    const decimals = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;
    for (let us = 0; us <= data.end_us; us += step) {
      const tick = el("div", "tick", (us / 1000).toFixed(decimals) + "ms");
      tick.style.left = pct(us);
      t.appendChild(tick);
    }
    return r;
  }

  // The faults row: the run's notes and fault lines as marks, fault spans stacked below.
  function runRow() {
    const [r, t] = row("run", "faults");
    addMarks(t, runLines);
    const minUs = (SCALE_US * 90) / trackWidth(); // room for a label
    const levelEnds = [];
    data.spans
      .filter((s) => s.fault)
      .forEach((s) => {
        let level = levelEnds.findIndex((end) => end <= s.from);
        if (level < 0) level = levelEnds.push(0) - 1;
        levelEnds[level] = Math.max(s.to, s.from + minUs);
        const box = spanBox("span", s);
        box.textContent = s.label;
        box.style.top = 14 + level * 16 + "px";
        if (s.line) box.addEventListener("click", () => select([s.line - 1]));
        t.appendChild(box);
      });
    r.style.height = 16 + levelEnds.length * 16 + "px";
    return r;
  }

  function groupRow(gi) {
    const g = data.groups[gi];
    const st = state.groups[gi];
    const lanes = g.lanes.length + (g.lanes.length === 1 ? " lane" : " lanes");
    const what = g.kind === "listener" ? "listener " + g.name + " and its connections" : "clients " + g.name + "*";
    const [r, t] = row("group", "");
    const label = r.firstChild;
    label.append((st.folded ? "\u25b8 " : "\u25be ") + g.name + (g.kind === "listener" ? " " : "* "));
    label.appendChild(el("span", "count", "\u00b7 " + lanes));
    label.title = (st.folded ? "Unfold " : "Fold ") + what + ": " + lanes;
    r.dataset.group = gi;
    const inGroup = new Set(g.lanes);
    // Activity: how many trace lines of the group's lanes fall in each column.
    const bins = new Array(BINS).fill(0);
    g.lanes.forEach((l) => laneLines[l].forEach((n) => bins[Math.min(BINS - 1, Math.floor((timeOf(n) / SCALE_US) * BINS))]++));
    const most = Math.max(1, ...bins);
    const chart = svg("svg");
    chart.setAttribute("class", "density");
    chart.setAttribute("viewBox", "0 0 " + BINS + " 1");
    chart.setAttribute("preserveAspectRatio", "none");
    const path = svg("path");
    path.setAttribute("d", bins.map((c, i) => (c ? "M" + i + " 1V" + (1 - c / most).toFixed(3) + "h1V1z" : "")).join(""));
    chart.appendChild(path);
    t.appendChild(chart);
    data.spans.filter((s) => s.fault && g.lanes.some((l) => affects(s, l))).forEach((s) => t.appendChild(spanBox("shade", s)));
    data.violations.forEach((v) => {
      if (v.lane === null || !inGroup.has(v.lane)) return;
      r.classList.add("flagged");
      const tick = el("div", "vtick");
      tick.style.left = pct(timeOf(v.lines[v.lines.length - 1] - 1));
      tick.title = v.rule + " broken by " + v.who + ": " + v.message;
      tick.addEventListener("click", (e) => {
        e.stopPropagation();
        showViolation(v);
      });
      t.appendChild(tick);
    });
    r.addEventListener("click", () => {
      st.folded = !st.folded;
      render();
    });
    return r;
  }

  function laneRow(li) {
    const lane = data.lanes[li];
    const peer = lane.peer === null ? "" : ", peer " + data.lanes[lane.peer].name;
    const title = lane.kind + " " + lane.name + " on " + lane.host + (lane.addresses ? ", " + lane.addresses : "") + peer;
    const [r, t] = row("lane", lane.name, title);
    r.dataset.lane = li;
    if (flaggedLanes.has(li)) r.classList.add("flagged");
    data.spans.filter((s) => affects(s, li)).forEach((s) => t.appendChild(spanBox("shade", s)));
    const f = flightFrom.get(li);
    if (f && f.peak > 0) {
      const chart = svg("svg");
      chart.setAttribute("class", "flight");
      chart.setAttribute("viewBox", "0 0 " + SCALE_US + " " + f.peak);
      chart.setAttribute("preserveAspectRatio", "none");
      let d = "M" + f.points[0][0] + " " + f.peak;
      f.points.forEach(([at, bytes]) => (d += "H" + at + "V" + (f.peak - Math.max(0, bytes))));
      d += "H" + f.until + "V" + f.peak + "z";
      const path = svg("path");
      path.setAttribute("d", d);
      const tip = svg("title");
      tip.textContent = "bytes in flight " + lane.name + " \u2192 " + data.lanes[f.to].name + ": up to " + f.peak + "B";
      path.appendChild(tip);
      chart.appendChild(path);
      t.appendChild(chart);
    }
    addMarks(t, laneLines[li]);
    return r;
  }

  // Under a group of more than a page of lanes: which page this is, and buttons to turn it.
  function pagerRow(gi) {
    const st = state.groups[gi];
    const total = data.groups[gi].lanes.length;
    const last = Math.min(total, st.first + PAGE);
    const [r] = row("pager", "");
    const turn = (text, first) => {
      const b = el("button", "", text);
      b.disabled = first < 0 || first >= total;
      b.addEventListener("click", () => {
        st.first = first;
        render();
      });
      return b;
    };
    const where = " " + (st.first + 1) + "\u2013" + last + " of " + total + " ";
    r.firstChild.append(turn("\u25c2", st.first - PAGE), where, turn("\u25b8", st.first + PAGE));
    return r;
  }

  function render() {
    const rows = $("rows");
    rows.textContent = "";
    rows.append(axisRow(), runRow());
    data.groups.forEach((g, gi) => {
      rows.appendChild(groupRow(gi));
      const st = state.groups[gi];
      if (st.folded) return;
      g.lanes.slice(st.first, st.first + PAGE).forEach((l) => rows.appendChild(laneRow(l)));
      if (g.lanes.length > PAGE) rows.appendChild(pagerRow(gi));
    });
    $("zoom-level").textContent = state.zoom + "\u00d7";
    for (const m of document.querySelectorAll(".mark[data-lines]")) {
      m.classList.toggle("selected", m.dataset.lines.split(" ").some((n) => state.selected.has(n - 1)));
    }
  }

  // Shows `lines` (indices) in the details panel and outlines their marks.
  function select(lines) {
    state.selected = new Set(lines);
    const panel = $("details");
    panel.textContent = "";
    const first = data.lines[lines[0]];
    const lane = first[0] === null ? null : data.lanes[first[0]];
    const head = lane ? lane.kind + " " + lane.name + " on " + lane.host + (lane.addresses ? " (" + lane.addresses + ")" : "") : "the run";
    panel.appendChild(el("h2", "", head + " at " + fmtTime(first[1]).trim()));
    const why = new Set();
    lines.forEach((n) => {
      const div = el("div", "line");
      div.dataset.line = n + 1;
      div.appendChild(el("span", "n", "line " + String(n + 1).padStart(5, " ") + "  "));
      div.appendChild(el("code", "", lineText(n)));
      if (violationsOfLine.has(n)) {
        div.classList.add("violation");
        violationsOfLine.get(n).forEach((v) => why.add(v));
      }
      panel.appendChild(div);
    });
    why.forEach((vi) => {
      const v = data.violations[vi];
      panel.appendChild(el("p", "why", v.rule + " broken by " + v.who + ": " + v.message + " (lines " + v.lines.join(", ") + ")"));
    });
    render();
  }

  // Unfolds its group and turns to its page so that lane `li` is drawn, then scrolls to it.
  function reveal(li, atUs) {
    const gi = data.lanes[li].group;
    const st = state.groups[gi];
    st.folded = false;
    const pos = data.groups[gi].lanes.indexOf(li);
    st.first = Math.floor(pos / PAGE) * PAGE;
    render();
    const r = document.querySelector('.lane[data-lane="' + li + '"]');
    if (r && r.scrollIntoView) r.scrollIntoView({ block: "center" });
    if (atUs !== undefined) {
      const s = $("scroller");
      s.scrollLeft = (atUs / SCALE_US) * trackWidth() - (s.clientWidth - LABEL) / 2;
    }
  }

  function showViolation(v) {
    const last = v.lines[v.lines.length - 1] - 1;
    if (v.lane !== null) reveal(v.lane, timeOf(last));
    select(v.lines.map((n) => n - 1));
  }

  function zoomTo(z, clientX) {
    const s = $("scroller");
    const x = clientX === undefined ? (s.clientWidth + LABEL) / 2 : clientX - s.getBoundingClientRect().left;
    const at = (s.scrollLeft + x - LABEL) / trackWidth();
    state.zoom = Math.min(MAX_ZOOM, Math.max(1, Math.round(z * 100) / 100));
    render();
    s.scrollLeft = at * trackWidth() - (x - LABEL);
  }

  function header() {
    $("title").textContent = data.title;
    const verdict = $("verdict");
    const callbacks = data.lines.filter((l) => l[0] !== null).length;
    const faults = data.spans.filter((s) => s.fault).length;
    const parts = [
      data.violations.length ? "contract: " + data.violations.length + " violation(s)" : "contract: ok",
      ...(data.check_note ? [data.check_note] : []),
      ...data.failures,
      data.lanes.length + " lanes, " + callbacks + " lane events, " + faults + " fault spans, " + fmtTime(data.end_us).trim(),
    ];
    verdict.textContent = parts.join(" \u00b7 ");
    if (data.violations.length || data.failures.length) verdict.classList.add("failed");
    if (data.plan) $("plan").querySelector("pre").textContent = data.plan;
    else $("plan").remove();
    data.violations.forEach((v) => {
      const li = el("li", "", v.rule + " broken by " + v.who + ": " + v.message + " (lines " + v.lines.join(", ") + ")");
      li.addEventListener("click", () => showViolation(v));
      $("violations").appendChild(li);
    });
    const legend = $("legend");
    data.names.forEach((name) => {
      const item = el("span");
      item.append(el("span", "mark c-" + cssName(name)), name);
      legend.appendChild(item);
    });
    $("zoom-in").addEventListener("click", () => zoomTo(state.zoom * 2));
    $("zoom-out").addEventListener("click", () => zoomTo(state.zoom / 2));
    $("zoom-fit").addEventListener("click", () => zoomTo(1));
    const foldAll = (folded) => () => {
      state.groups.forEach((g) => (g.folded = folded));
      render();
    };
    $("unfold-all").addEventListener("click", foldAll(false));
    $("fold-all").addEventListener("click", foldAll(true));
    $("scroller").addEventListener(
      "wheel",
      (e) => {
        if (!e.ctrlKey && !e.metaKey) return;
        e.preventDefault();
        zoomTo(state.zoom * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX);
      },
      { passive: false },
    );
  }

  header();
  const params = new URLSearchParams(location.hash.slice(1));
  const zoom = Number(params.get("zoom"));
  if (zoom >= 1) state.zoom = Math.min(MAX_ZOOM, zoom);
  if (params.get("unfold") === "all") state.groups.forEach((g) => (g.folded = false));
  render();
  const lane = data.lanes.findIndex((l) => l.name === params.get("lane"));
  if (lane >= 0) reveal(lane);
  const line = Number(params.get("line")) - 1;
  if (line >= 0 && line < data.lines.length) {
    if (data.lines[line][0] !== null) reveal(data.lines[line][0], timeOf(line));
    select([line]);
  }
})();
