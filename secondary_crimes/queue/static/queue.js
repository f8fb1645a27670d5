// Keyboard shortcuts for the review queue. j/k move, Enter/o open, r/n/m decide (an incident's
// flags, or a series' flags on its page), Ctrl+Enter submit, u back to the queue, ? help;
// selected text -> a missed offence's evidence.
// No build step, no dependencies.
(function () {
  "use strict";
  function typing(el) {
    return el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  }
  function move(items, cls, delta) {
    if (!items.length) return null;
    let i = items.findIndex((el) => el.classList.contains(cls));
    items.forEach((el) => el.classList.remove(cls));
    i = i < 0 ? 0 : Math.max(0, Math.min(items.length - 1, i + delta));
    items[i].classList.add(cls);
    items[i].scrollIntoView({ block: "nearest" });
    return items[i];
  }
  function rows() { return Array.from(document.querySelectorAll("table.queue tbody tr[data-href]")); }
  function cards() { return Array.from(document.querySelectorAll(".flag-card")); }
  function currentCard() {
    return document.querySelector(".flag-card.selected") || cards()[0] || null;
  }
  function choose(action) {
    const card = currentCard();
    if (!card) return;
    const form = card.querySelector("form.decide");
    const radio = form.querySelector('input[name="action"][value="' + action + '"]');
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    const target = action === "no_crime" ? form.querySelector('select[name="reason_code"]')
      : action === "more_info" ? form.querySelector('textarea[name="note"]')
      : form.querySelector('button[type="submit"]');
    target.focus();
  }
  // A "no crime" decision needs a reason; the others do not.
  document.addEventListener("change", function (event) {
    const el = event.target;
    if (el.name !== "action" || !el.form) return;
    el.form.querySelector('select[name="reason_code"]').required = el.value === "no_crime";
  });
  document.addEventListener("click", function (event) {
    const row = event.target.closest("tr[data-href]");
    if (row && !event.target.closest("a, input, label")) window.location = row.dataset.href;
    const card = event.target.closest(".flag-card");
    if (card) { cards().forEach((c) => c.classList.remove("selected")); card.classList.add("selected"); }
  });
  document.addEventListener("keydown", function (event) {
    const help = document.getElementById("help");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = event.target.closest && event.target.closest("form.decide") || (currentCard() && currentCard().querySelector("form.decide"));
      if (form) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    if (event.key === "Escape" && typing(document.activeElement)) { document.activeElement.blur(); return; }
    if (typing(document.activeElement) || event.ctrlKey || event.metaKey || event.altKey) return;
    const onQueue = document.body.classList.contains("queue-page");
    // A page of flag cards to decide: an incident's, or a series' (decided once for the series).
    const onFlags = ["incident-page", "series-page"].some((c) => document.body.classList.contains(c));
    switch (event.key) {
      case "?": if (help) { help.open ? help.close() : help.showModal(); } break;
      case "j": if (onQueue) move(rows(), "selected", 1); else if (onFlags) move(cards(), "selected", 1); break;
      case "k": if (onQueue) move(rows(), "selected", -1); else if (onFlags) move(cards(), "selected", -1); break;
      case "o":
      case "Enter": {
        if (!onQueue) return;
        const row = document.querySelector("tr.selected[data-href]") || rows()[0];
        if (row) { event.preventDefault(); window.location = row.dataset.href; }
        break;
      }
      case "r": if (onFlags) { event.preventDefault(); choose("record"); } break;
      case "n": if (onFlags) { event.preventDefault(); choose("no_crime"); } break;
      case "m": if (onFlags) { event.preventDefault(); choose("more_info"); } break;
      case "u": { const back = document.getElementById("back"); if (back) window.location = back.href; break; }
      default: return;
    }
  });
  // A missed offence's evidence: text selected in the call log or narrative fills the form's
  // field and offsets (in code points, as the server counts; it checks them against the text).
  function selectedSpan() {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    const node = range.commonAncestorContainer;
    const box = (node.nodeType === 1 ? node : node.parentElement).closest(".text[id]");
    if (!box || !box.contains(range.endContainer)) return null;
    const before = document.createRange();
    before.selectNodeContents(box);
    before.setEnd(range.startContainer, range.startOffset);
    const start = Array.from(before.toString()).length;
    const text = range.toString();
    return { field: box.id, start: start, end: start + Array.from(text).length, text: text };
  }
  document.addEventListener("selectionchange", function () {
    const form = document.getElementById("add-offence");
    const span = form && selectedSpan();
    if (!span) return;
    form.querySelector("#span-field").value = span.field;
    form.querySelector("#span-start").value = span.start;
    form.querySelector("#span-end").value = span.end;
    document.getElementById("selected-span").textContent = span.text;
  });
  // Start on the first row / the selected flag so j/k and Enter work at once.
  document.addEventListener("DOMContentLoaded", function () {
    const r = rows();
    if (r.length) r[0].classList.add("selected");
  });
})();
