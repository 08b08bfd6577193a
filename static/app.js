// huiqian: small progressive enhancements; every page works without them.
document.addEventListener("submit", function (ev) {
  // A second click on a submit button while the first request is on its way does
  // nothing (creates are idempotent anyway; this spares the server the retry).
  const form = ev.target;
  if (form.dataset.submitting === "1") { ev.preventDefault(); return; }
  form.dataset.submitting = "1";
  setTimeout(function () { form.dataset.submitting = ""; }, 4000);
});

// Signature pads: draw with a finger, a stylus or the mouse, or type the name and confirm
// it; the drawing is kept as a PNG data URL in the hidden input named by data-target
// (empty until something is drawn), and "<target>-typed" says "1" for a typed name.
function setupPad(canvas) {
  const input = document.getElementById(canvas.dataset.target);
  const ctx = canvas.getContext("2d");
  ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  const typed = document.getElementById(canvas.dataset.target + "-typed");
  let drawing = false, drawn = false;
  const blank = () => { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    // Drawing after a typed name starts a drawn signature afresh.
    if (typed && typed.value === "1") { blank(); typed.value = ""; drawn = false; if (input) input.value = ""; }
    drawing = true; canvas.setPointerCapture(e.pointerId);
    const [x, y] = pos(e); ctx.beginPath(); ctx.moveTo(x, y); e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => { if (!drawing) return; const [x, y] = pos(e); ctx.lineTo(x, y); ctx.stroke(); drawn = true; e.preventDefault(); });
  const end = () => { if (drawing && drawn && input) input.value = canvas.toDataURL("image/png"); drawing = false; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.style.touchAction = "none";
  canvas.clearPad = () => { blank(); drawn = false; if (input) input.value = ""; if (typed) typed.value = ""; };
  // The keyboard alternative: the name typed and confirmed is drawn on the pad in a
  // hand-like face and sent as the signature, flagged as typed so it is recorded as such.
  canvas.typeName = (name) => {
    blank();
    ctx.fillStyle = "#111"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    let size = 84;
    const face = (px) => `${px}px "KaiTi", "STKaiti", "AR PL UKai CN", "WenQuanYi Micro Hei", serif`;
    ctx.font = face(size);
    while (size > 24 && ctx.measureText(name).width > canvas.width - 40) { size -= 4; ctx.font = face(size); }
    ctx.fillText(name, canvas.width / 2, canvas.height / 2);
    drawn = true;
    if (input) input.value = canvas.toDataURL("image/png");
    if (typed) typed.value = "1";
  };
}
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("canvas.signature-pad").forEach(setupPad);
  document.querySelectorAll("[data-clear-signature]").forEach((b) => b.addEventListener("click", () => {
    const c = document.querySelector(`canvas[data-target="${b.dataset.clearSignature}"]`);
    if (c && c.clearPad) c.clearPad();
    const status = document.getElementById(b.dataset.clearSignature + "-status");
    if (status) status.textContent = "";
  }));
  document.querySelectorAll("[data-typed-for]").forEach((box) => {
    const pad = box.dataset.typedFor;
    const canvas = document.querySelector(`canvas[data-target="${pad}"]`);
    const name = document.getElementById(pad + "-name");
    const button = box.querySelector("[data-type-signature]");
    const status = document.getElementById(pad + "-status");
    if (!canvas || !canvas.typeName || !name || !button) return;
    box.hidden = false;
    const confirm = () => {
      const typed = name.value.trim();
      if (!typed) { status.textContent = button.dataset.empty; name.focus(); return; }
      canvas.typeName(typed);
      status.textContent = button.dataset.done.replace("{name}", typed);
      // The signer's box, when the form has one and it is empty, takes the typed name.
      const signer = box.closest("form") && box.closest("form").querySelector("input[name=signer]");
      if (signer && !signer.value.trim()) signer.value = typed;
    };
    button.addEventListener("click", confirm);
    // Enter in the name box confirms the signature; it does not submit the form.
    name.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); confirm(); } });
  });
  // The registration form shows the signature pad only for a visit (R-SHEET-3).
  const channel = document.querySelector("#sheet-form select[name=channel]");
  const pad = document.querySelector("#sheet-form fieldset[data-for-channel]");
  if (channel && pad) {
    const sync = () => { pad.hidden = channel.value !== "visit"; };
    channel.addEventListener("change", sync); sync();
  }
  // The requester and the reason are named after the channel: 来访人 for a visit, 来电人
  // for a call, 来函 for a letter.
  const words = ["requester-label", "reason-label"].map((id) => document.getElementById(id)).filter(Boolean);
  if (channel && words.length) {
    const name = () => words.forEach((el) => { el.textContent = el.dataset[channel.value] || el.textContent; });
    channel.addEventListener("change", name); name();
  }
  // Live countdowns to a clock's deadline, with their units: "还剩 13 分钟", "已超时 2 小时".
  const tick = () => document.querySelectorAll(".countdown[data-due]").forEach((el) => {
    const left = Number(el.dataset.due) - Date.now();
    const [day, hour, minute, joint] = (el.dataset.units || "d|h|min| ").split("|");
    const mins = Math.max(1, Math.floor(Math.abs(left) / 60000));
    const d = Math.floor(mins / 1440), h = Math.floor((mins % 1440) / 60), m = mins % 60;
    const parts = d > 0 ? [[d, day], [h, hour]] : h > 0 ? [[h, hour], [m, minute]] : [[m, minute]];
    const span = parts.filter(([n], i) => n > 0 || i === 0).map(([n, u]) => n + joint + u).join(joint);
    el.textContent = (left < 0 ? el.dataset.overdue : el.dataset.left).replace("{t}", span);
    el.classList.toggle("late", left < 0);
  });
  tick(); setInterval(tick, 30000);
  window.addEventListener("countdowns", tick);
});
// The unit finder: a click fills the room, the requester and the person; the person's
// phone comes from their file on the server, so the page shows it masked and leaves the
// phone box free for a different number.
document.addEventListener("click", (e) => {
  const b = e.target.closest("button.candidate");
  if (!b) return;
  const form = b.closest("form");
  form.querySelector("[name=room_no]").value = b.dataset.room;
  if (b.dataset.name) form.querySelector("[name=requester_name]").value = b.dataset.name;
  form.querySelector("[name=person_id]").value = b.dataset.person || "";
  const note = form.querySelector("#phone-from-file");
  const phone = form.querySelector("[name=requester_phone]");
  const fromFile = b.dataset.person && b.dataset.phone;
  if (phone) phone.placeholder = fromFile ? b.dataset.phone : "";
  if (note) {
    note.hidden = !fromFile;
    note.textContent = fromFile ? note.dataset.text.replace("{phone}", b.dataset.phone) : "";
  }
});
// In the finder, Enter and the arrow keys move into the results instead of submitting
// the form; in the results the arrows move up and down, Escape goes back to the finder.
document.addEventListener("keydown", (e) => {
  const finder = document.getElementById("finder");
  if (!finder) return;
  const list = () => Array.from(document.querySelectorAll("#finder-results button.candidate"));
  if (e.target === finder && (e.key === "Enter" || e.key === "ArrowDown")) {
    e.preventDefault();
    const first = list()[0];
    if (first) first.focus();
  } else if (e.target.matches && e.target.matches("#finder-results button.candidate")) {
    const all = list(), i = all.indexOf(e.target);
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = all[i + (e.key === "ArrowDown" ? 1 : -1)];
      if (next) next.focus(); else if (e.key === "ArrowUp") finder.focus();
    } else if (e.key === "Escape") {
      finder.focus();
    }
  }
});
// The registration form shows the repair part for a repair (or paid work) and the
// complaint part with the apology for a complaint; the fields are in the page either way.
document.addEventListener("DOMContentLoaded", () => {
  const kind = document.querySelector("#sheet-form select[name=kind]");
  const parts = document.querySelectorAll("#sheet-form fieldset[data-for-kind]");
  if (kind && parts.length) {
    const sync = () => parts.forEach((p) => { p.hidden = !p.dataset.forKind.split(" ").includes(kind.value); });
    kind.addEventListener("change", sync); sync();
  }
  const category = document.getElementById("repair-category");
  const suggested = document.getElementById("suggested-class");
  if (category && suggested) {
    const show = () => { const o = category.selectedOptions[0]; suggested.textContent = (o && o.dataset.suggested) || ""; };
    category.addEventListener("change", show); show();
  }
});
// The knowledge base: "use" fills the inquiry's answer, its basis and the article — on
// the sheet's answer form, or on the registration form when it is answered at once.
document.addEventListener("click", (e) => {
  const b = e.target.closest(".kb-use");
  const form = document.getElementById("answer-form") || document.getElementById("sheet-form");
  if (!b || !form) return;
  e.preventDefault();
  form.querySelector("[data-kb=answer]").value = b.dataset.answer || "";
  form.querySelector("[data-kb=basis]").value = b.dataset.basis || "";
  form.querySelector("[data-kb=article]").value = b.dataset.article || "";
});
// Enter in the knowledge-base search of the registration form searches; it does not
// register the sheet.
document.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && e.target.id === "kb-search") e.preventDefault();
});
// Report charts (vendored ECharts): each [data-chart] element holds its chart as JSON —
// {"type": "bar"|"pie", "labels": [...], "series": [{"name", "data": [...]}]}.
document.addEventListener("DOMContentLoaded", () => {
  if (!window.echarts) return;
  document.querySelectorAll("[data-chart]").forEach((el) => {
    let spec;
    try { spec = JSON.parse(el.dataset.chart); } catch (_) { return; }
    const chart = window.echarts.init(el, null, { renderer: "svg" });
    const title = { text: spec.title || "", left: "center", top: 0, textStyle: { fontSize: 14 } };
    const option = spec.type === "pie"
      ? { title, tooltip: { trigger: "item" }, animation: false,
          series: [{ type: "pie", radius: "58%", top: 24,
                     label: { formatter: "{b}: {c} ({d}%)" },
                     data: spec.labels.map((l, i) => ({ name: l, value: spec.series[0].data[i] })) }] }
      : { title, tooltip: { trigger: "axis" }, legend: { top: 24 }, animation: false,
          grid: { left: 56, right: 16, top: 64, bottom: 72 },
          xAxis: { type: "category", name: spec.x || "", nameLocation: "middle", nameGap: 48, data: spec.labels,
                   axisLabel: { interval: 0, rotate: spec.labels.length > 6 ? 30 : 0 } },
          yAxis: { type: "value", minInterval: 1, name: spec.y || "", nameLocation: "middle", nameGap: 36 },
          series: spec.series.map((s) => ({ type: "bar", name: s.name, data: s.data, label: { show: true, position: "top" } })) };
    chart.setOption(option);
    el.dataset.rendered = "1";
    window.addEventListener("resize", () => chart.resize());
  });
});
// A print button (the weekly table prints on A4 without the page's controls).
document.addEventListener("click", (e) => {
  if (e.target.closest("[data-print]")) window.print();
});

// The dispatcher's board refreshes itself, but never under a hand that is filling in an
// assignment: it waits while a form on the board has the focus or has been changed.
document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("board-live");
  if (!live || !live.dataset.refresh) return;
  let touched = false;
  live.addEventListener("input", () => { touched = true; });
  const idle = () => !touched && !live.contains(document.activeElement) && document.visibilityState === "visible";
  const refresh = async () => {
    if (!idle()) return;
    try {
      const r = await fetch(live.dataset.refresh, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
      if (!r.ok || !idle()) return;
      const fresh = new DOMParser().parseFromString(await r.text(), "text/html").getElementById("board-live");
      if (!fresh) return;
      live.innerHTML = fresh.innerHTML;
      live.dataset.refreshedAt = String(Date.now());
      live.dispatchEvent(new CustomEvent("board:refreshed", { bubbles: true }));
    } catch (_) { /* offline for a moment: the next round tries again */ }
  };
  setInterval(refresh, 1000 * Number(live.dataset.refreshSeconds || 20));
  // A new emergency (water, heating, gas: at once, R-REP-3) is announced on the page and,
  // if the dispatcher turned the sound on at this desk, with three short beeps.
  const sound = document.getElementById("board-sound");
  const alert = document.getElementById("board-alert");
  const key = "huiqian.board.sound";
  if (sound) {
    sound.checked = localStorage.getItem(key) === "on";
    sound.addEventListener("change", () => localStorage.setItem(key, sound.checked ? "on" : "off"));
  }
  const emergencies = () => Array.from(live.querySelectorAll("tr[data-emergency]"));
  const seen = new Set(emergencies().map((r) => r.dataset.sheet));
  const beep = () => {
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35, 0.7].forEach((at) => {
        const o = ctx.createOscillator(); const g = ctx.createGain();
        o.frequency.value = 880; g.gain.value = 0.2;
        o.connect(g); g.connect(ctx.destination);
        o.start(ctx.currentTime + at); o.stop(ctx.currentTime + at + 0.2);
      });
    } catch (_) { /* no sound on this machine: the banner still says it */ }
    live.dataset.beeps = String(Number(live.dataset.beeps || 0) + 1);
  };
  live.addEventListener("board:refreshed", () => {
    const fresh = emergencies().filter((r) => !seen.has(r.dataset.sheet));
    fresh.forEach((r) => seen.add(r.dataset.sheet));
    if (!fresh.length) return;
    if (alert) {
      alert.textContent = `${alert.dataset.text} ${fresh.map((r) => r.dataset.number).join(", ")}`;
      alert.hidden = false;
    }
    if (sound && sound.checked) beep();
  });
  document.addEventListener("board:refreshed", () => document.querySelectorAll(".countdown[data-due]").length && window.dispatchEvent(new Event("countdowns")));
});

// Alt+N opens a new sheet from any page, wherever the cursor is (Alt+N types nothing).
document.addEventListener("keydown", (e) => {
  if (!e.altKey || e.ctrlKey || e.metaKey || (e.key || "").toLowerCase() !== "n") return;
  const link = document.getElementById("nav-new-sheet");
  if (!link) return;
  e.preventDefault();
  window.location.assign(link.href);
});
// A quick registration fills the registration form in place, keeping the room, the
// requester and the phone already typed (without a script, its link opens the form filled).
document.addEventListener("click", (e) => {
  const b = e.target.closest("a[data-preset]");
  const form = document.getElementById("sheet-form");
  if (!b || !form) return;
  e.preventDefault();
  const set = (name, value) => {
    const el = form.querySelector(`[name="${name}"]`);
    if (!el || value === undefined) return;
    el.value = value;
    el.dispatchEvent(new Event("change", { bubbles: true }));
  };
  set("kind", b.dataset.kind);
  if (b.dataset.channel) set("channel", b.dataset.channel);
  set("reason", b.dataset.reason);
  set("repair.category", b.dataset.category);
  set("inquiry.answer", b.dataset.answer);
  set("inquiry.basis", b.dataset.basis);
  set("inquiry.article_id", b.dataset.article);
  document.querySelectorAll("a[data-preset]").forEach((x) => x.removeAttribute("aria-current"));
  b.setAttribute("aria-current", "true");
  const reason = form.querySelector("[name=reason]");
  if (reason) reason.focus();
});
