/* Yima browse pages: the lazily expanded code tree, auto-submitting controls, copy buttons. No external code. */
(function () {
  "use strict";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function codeItem(tree, item) {
    var li = el("li", { "class": item.status || "", "data-code": item.code });
    if (item.children) {
      li.appendChild(el("button", { type: "button", "class": "toggle", "aria-expanded": "false",
        "aria-label": tree.dataset.labelExpand + " " + item.code }, "+"));
    } else {
      li.appendChild(el("span", { "class": "leaf" }));
    }
    li.appendChild(document.createTextNode(" "));
    var href = tree.dataset.codeUrl + "/" + encodeURIComponent(item.code) +
      (tree.dataset.release ? "?release=" + encodeURIComponent(tree.dataset.release) : "");
    var a = el("a", { href: href });
    a.appendChild(el("code", {}, item.code));
    a.appendChild(document.createTextNode(" " + (item.name || "")));
    li.appendChild(a);
    if (item.children) {
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("small", { "class": "muted" }, "(" + item.children + ")"));
    }
    return li;
  }

  function toggle(tree, button) {
    var li = button.closest("li");
    var open = button.getAttribute("aria-expanded") === "true";
    var sub = li.querySelector(":scope > ul");
    if (open) {
      button.setAttribute("aria-expanded", "false");
      button.textContent = "+";
      if (sub) sub.hidden = true;
      return;
    }
    button.setAttribute("aria-expanded", "true");
    button.textContent = "−";
    if (sub) { sub.hidden = false; return; }
    sub = el("ul", { "class": "tree", "aria-busy": "true" });
    li.appendChild(sub);
    var params = new URLSearchParams({ parent: li.dataset.code, per_page: "1000" });
    if (tree.dataset.release) params.set("release", tree.dataset.release);
    fetch(tree.dataset.api + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (body) {
        var frag = document.createDocumentFragment();
        body.items.forEach(function (item) { frag.appendChild(codeItem(tree, item)); });
        sub.appendChild(frag);
        sub.removeAttribute("aria-busy");
      })
      .catch(function () {
        sub.appendChild(el("li", { "class": "field-error" }, tree.dataset.labelError));
        sub.removeAttribute("aria-busy");
      });
  }

  document.querySelectorAll("ul.tree[data-api]").forEach(function (tree) {
    tree.addEventListener("click", function (event) {
      var button = event.target.closest("button.toggle");
      if (button && tree.contains(button)) toggle(tree, button);
    });
  });

  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("change", function () { form.submit(); });
  });

  // a control outside its form (form="…") that submits it when changed
  document.querySelectorAll("input[data-autosubmit][form]").forEach(function (input) {
    input.addEventListener("change", function () { if (input.form) input.form.requestSubmit(); });
  });

  // a form sent back with errors: focus its error summary (each entry links to its field)
  var errorSummary = document.querySelector("#conflict, #error-summary");
  if (errorSummary) errorSummary.focus();

  // after a validation, the summary takes the focus (a screen reader hears the verdict first)
  var summary = document.getElementById("validate-summary");
  if (summary) summary.focus();

  // copy a signed note exactly as shown; the Clipboard API needs a secure context (an intranet http
  // address is not one), so fall back to a hidden textarea and execCommand there
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = el("textarea", { readonly: "" });
    area.style.position = "fixed";  // CSSOM, not a style attribute: the CSP allows no inline styles
    area.style.top = "-100px";
    area.style.opacity = "0";
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = document.execCommand("copy");
    area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy"));
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.querySelector(button.dataset.copy);
    if (!source) return;
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      copyText(source.textContent).then(function () {
        button.textContent = button.dataset.copied;
        setTimeout(function () { button.textContent = label; }, 2000);
      }, function () { /* the note stays selectable by hand */ });
    });
  });
})();
