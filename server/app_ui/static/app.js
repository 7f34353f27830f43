// HUMAN approvals: the WebAuthn calls and deadline countdowns. Loaded as
// an external script (the page's Content-Security-Policy forbids inline
// script). Without it the pages still read; signing needs it.
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json"},
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { data = {error: "The server's answer could not be read."}; }
    if (!r.ok) { throw new Error(data.error || ("The server refused (" + r.status + ").")); }
    return data;
  }

  async function createPasskey(options) {
    const c = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)});
    return c.toJSON();
  }

  async function usePasskey(options) {
    const c = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
    return c.toJSON();
  }

  function say(form, text, bad) {
    const s = form.querySelector(".status");
    if (s) { s.textContent = text; s.classList.toggle("bad", !!bad); }
  }

  function busy(form, on) {
    form.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  const flows = {
    signin: async function (form) {
      say(form, "Waiting for your passkey…");
      const o = await post("/app/signin/options", {org: form.org.value.trim(), next: form.dataset.next || ""});
      const cred = await usePasskey(o.options);
      say(form, "Checking…");
      const done = await post("/app/signin/finish", {ceremony: o.ceremony, credential: cred});
      location.assign(done.next);
    },
    register: async function (form) {
      say(form, "Creating your passkey…");
      const o = await post("/app/register/options", {org: form.org.value.trim(), name: form.name.value.trim()});
      const created = await createPasskey(o.options);
      say(form, "Now sign your passport with the new passkey…");
      const s = await post("/app/register/finish", {ceremony: o.ceremony, credential: created});
      const signed = await usePasskey(s.options);
      const done = await post("/app/register/sign", {ceremony: s.ceremony, credential: signed});
      location.assign(done.next);
    },
    vote: async function (form, submitter) {
      const verdict = submitter && submitter.value;
      if (verdict !== "approve" && verdict !== "deny") { throw new Error("Choose approve or deny."); }
      const base = "/app/tasks/" + encodeURIComponent(form.dataset.task) + "/vote/";
      say(form, "Confirm with your passkey to " + verdict + "…");
      const o = await post(base + "options", {verdict: verdict, digest: form.dataset.digest});
      const cred = await usePasskey(o.options);
      say(form, "Recording your signed decision…");
      const done = await post(base + "finish", {ceremony: o.ceremony, credential: cred});
      location.assign(done.next);
    },
  };

  document.querySelectorAll("form[data-flow]").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const flow = flows[form.dataset.flow];
      if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
        say(form, "This browser cannot use passkeys. Use a current browser on your phone or computer.", true);
        return;
      }
      busy(form, true);
      try {
        await flow(form, ev.submitter);
      } catch (e) {
        const msg = e && e.name === "NotAllowedError" ? "The passkey request was cancelled or timed out. Nothing was signed." : (e && e.message) || String(e);
        say(form, msg, true);
        busy(form, false);
      }
    });
  });

  // Deadlines count down; past ones say so.
  function tick() {
    const now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (t) {
      const left = Math.round((Date.parse(t.getAttribute("datetime")) - now) / 1000);
      if (left <= 0) { t.textContent = "deadline passed"; t.classList.add("late"); return; }
      const h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      t.textContent = (h ? h + " h " : "") + (h || m ? m + " min " : "") + s + " s left";
    });
  }
  tick();
  setInterval(tick, 1000);
})();
