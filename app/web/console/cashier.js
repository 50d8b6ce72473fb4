// The cashier page (/cashier), made for a phone at the counter: type or paste a customer's code,
// see its offer (title, store, validity) and whether it was redeemed (when), and redeem it. It
// uses the owner key of this browser (ownerkey.js) and two public calls: GET /v1/claims/{code}
// and POST /v1/claims/{code}/redeem. Every refusal gets a sentence a cashier can act on.

import { api } from "./api.js";
import { el } from "./dom.js";
import { dateTime, languageSwitch, localize, onLanguageChange, t } from "./i18n.js";
import { clearMessage, showError } from "./message.js";
import { onOwnerKeyChange, ownerKey, setOwnerKey } from "./ownerkey.js";

const CODE = /^[A-Z2-7]{26}$/; // app/routes/claims.py: 26 letters of RFC 4648 base32
const $ = (id) => document.getElementById(id);

// A code as typed or pasted: spaces, dashes and case do not matter.
export const normalise = (typed) => typed.replace(/[\s-]+/g, "").toUpperCase();

class Cashier {
  constructor() {
    this.shown = null; // {claim, store} of the code on screen
    this.verdict = null; // [kind, key, vars] of the verdict line, for a relabel
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("owner-key").value.trim();
      if (key) setOwnerKey(key);
    });
    $("forget-key").addEventListener("click", () => setOwnerKey(null));
    $("code-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.check();
    });
    $("redeem").addEventListener("click", () => this.redeem());
    $("next").addEventListener("click", () => this.next());
    onOwnerKeyChange(() => this.signedIn());
    onLanguageChange(() => this.render());
    this.signedIn();
  }

  signedIn() {
    const key = ownerKey();
    $("key-form").hidden = Boolean(key);
    $("code-form").hidden = !key;
    $("signed-in").hidden = !key;
    $("owner-key").value = "";
    clearMessage();
    this.next();
  }

  next() {
    this.shown = null;
    this.verdict = null;
    $("code").value = "";
    $("result").hidden = true;
    this.render();
    if (!$("code-form").hidden) $("code").focus();
  }

  async check() {
    clearMessage();
    const code = normalise($("code").value);
    $("code").value = code;
    this.shown = null;
    if (!CODE.test(code)) {
      this.say("refused", "cashier.bad-code");
      return;
    }
    let claim;
    try {
      claim = await api(`/v1/claims/${code}`, { key: ownerKey() });
    } catch (error) {
      this.refused(error, code, "cashier.failed");
      return;
    }
    let store = claim.offer.merchant_id;
    try {
      store = (await api(`/v1/merchants/${claim.offer.merchant_id}`, { key: ownerKey() })).name;
    } catch {
      // the store's name is a courtesy: its id still says which it is
    }
    this.shown = { claim, store };
    if (claim.redeemed_at) this.say("done", "cashier.already", { time: claim.redeemed_at });
    else this.say("ok", "cashier.valid");
  }

  async redeem() {
    if (!this.shown) return;
    clearMessage();
    const { code } = this.shown.claim;
    try {
      const redeemed = await api(`/v1/claims/${code}/redeem`, { method: "POST", key: ownerKey() });
      this.shown.claim.redeemed_at = redeemed.redeemed_at;
      this.say("redeemed", "cashier.redeemed", { time: redeemed.redeemed_at });
    } catch (error) {
      if (error.status === 409) {
        await this.check(); // redeemed meanwhile (another till): say when
        return;
      }
      this.refused(error, code, "cashier.redeem-failed");
    }
  }

  refused(error, code, context) {
    this.shown = null;
    if (error.status === 404) this.say("refused", "cashier.unknown", { code });
    else if (error.status === 403) this.say("refused", "cashier.not-yours");
    else if (error.status === 422) this.say("refused", "cashier.bad-code");
    else if (error.status === 401) {
      this.say("refused", "cashier.key-refused");
      $("key-form").hidden = false;
    } else {
      this.verdict = null;
      this.render();
      showError(t(context), error);
    }
  }

  say(kind, key, vars = {}) {
    this.verdict = [kind, key, vars];
    this.render();
  }

  render() {
    const result = $("result");
    result.hidden = !this.verdict;
    if (!this.verdict) return;
    const [kind, key, vars] = this.verdict;
    const shownVars = { ...vars, ...(vars.time ? { time: dateTime(vars.time, { seconds: true }) } : {}) };
    const verdict = $("verdict");
    verdict.className = `verdict ${kind}`;
    verdict.dataset.kind = kind;
    verdict.textContent = t(key, shownVars);
    $("redeem").hidden = kind !== "ok";
    const details = $("claim-details");
    details.replaceChildren();
    if (!this.shown) return;
    const { claim, store } = this.shown;
    const offer = claim.offer;
    const validity = t("cashier.window", {
      from: dateTime(offer.starts_at),
      to: offer.ends_at ? dateTime(offer.ends_at) : t("merchant.no-end"),
    });
    for (const [term, value, name] of [
      [t("cashier.offer"), offer.title, "title"],
      [t("cashier.store"), store, "store"],
      [t("cashier.valid-window"), validity, "window"],
      [t("cashier.offer-status"), t(`status.${offer.status}`), "status"],
      [t("cashier.claimed"), dateTime(claim.claimed_at, { seconds: true }), "claimed"],
      [t("cashier.code"), claim.code, "code"],
    ]) {
      details.append(el("dt", {}, term), el("dd", { dataset: { field: name } }, value));
    }
  }
}

localize();
languageSwitch($("language"));
const cashier = new Cashier();
window.nearby = { cashier, ready: true };
document.body.dataset.ready = "true";
