/* Yima browse pages: the lazily expanded code tree, auto-submitting controls, copy buttons. No external code. */
(function () {
  "use strict";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- the code tree: lazy children, the WAI-ARIA tree pattern (roving tabindex, arrow keys), its
  // expanded nodes kept in sessionStorage (Back from a code's page finds the tree as it was left)

  function codeItem(tree, item) {
    var li = el("li", { "class": item.status || "", "data-code": item.code, role: "treeitem", tabindex: "-1" });
    if (item.children) {
      li.setAttribute("aria-expanded", "false");
      li.appendChild(el("span", { "class": "toggle", "aria-hidden": "true" }, "+"));
    } else {
      li.appendChild(el("span", { "class": "leaf" }));
    }
    li.appendChild(document.createTextNode(" "));
    var href = tree.dataset.codeUrl + "/" + encodeURIComponent(item.code) +
      (tree.dataset.release ? "?release=" + encodeURIComponent(tree.dataset.release) : "");
    var a = el("a", { href: href, tabindex: "-1" });
    a.appendChild(el("code", {}, item.code));
    a.appendChild(document.createTextNode(" " + (item.name || "")));
    li.appendChild(a);
    if (item.children) {
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("small", { "class": "muted" }, "(" + item.children + ")"));
    }
    return li;
  }

  function stateKey(tree) { return "yima-tree:" + tree.dataset.scheme + ":" + (tree.dataset.release || ""); }

  function loadState(tree) {
    try { return JSON.parse(sessionStorage.getItem(stateKey(tree)) || "[]"); } catch (e) { return []; }
  }

  function saveState(tree, code, open) {
    var codes = loadState(tree).filter(function (c) { return c !== code; });
    if (open) codes.push(code);
    try { sessionStorage.setItem(stateKey(tree), JSON.stringify(codes)); } catch (e) { /* private mode */ }
  }

  function setOpen(li, open) {
    li.setAttribute("aria-expanded", open ? "true" : "false");
    var mark = li.querySelector(":scope > .toggle");
    if (mark) mark.textContent = open ? "−" : "+";
  }

  // open or close a node; the promise settles once its children are in the page
  function toggle(tree, li, wanted) {
    if (!li.hasAttribute("aria-expanded")) return Promise.resolve();
    var open = li.getAttribute("aria-expanded") === "true";
    if (wanted === undefined) wanted = !open;
    var sub = li.querySelector(":scope > ul");
    if (!wanted) {
      if (open) { setOpen(li, false); if (sub) sub.hidden = true; saveState(tree, li.dataset.code, false); }
      return Promise.resolve();
    }
    setOpen(li, true);
    saveState(tree, li.dataset.code, true);
    if (sub) { sub.hidden = false; return Promise.resolve(); }
    sub = el("ul", { "class": "tree", role: "group", "aria-busy": "true" });
    li.appendChild(sub);
    var params = new URLSearchParams({ parent: li.dataset.code, per_page: "1000" });
    if (tree.dataset.release) params.set("release", tree.dataset.release);
    return fetch(tree.dataset.api + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (body) {
        var frag = document.createDocumentFragment();
        body.items.forEach(function (item) { frag.appendChild(codeItem(tree, item)); });
        sub.appendChild(frag);
        sub.removeAttribute("aria-busy");
      })
      .catch(function () {
        sub.appendChild(el("li", { "class": "field-error", role: "none" }, tree.dataset.labelError));
        sub.removeAttribute("aria-busy");
      });
  }

  function visibleItems(tree) {
    return Array.prototype.filter.call(tree.querySelectorAll("li[role=treeitem]"), function (li) {
      return !li.closest("ul[hidden]");
    });
  }

  function focusItem(tree, li) {
    if (!li) return;
    tree.querySelectorAll("li[role=treeitem][tabindex='0']").forEach(function (x) { x.setAttribute("tabindex", "-1"); });
    li.setAttribute("tabindex", "0");
    li.focus();
  }

  function onKey(tree, event) {
    var li = event.target.closest("li[role=treeitem]");
    if (!li || !tree.contains(li)) return;
    var items = visibleItems(tree), i = items.indexOf(li);
    var expanded = li.getAttribute("aria-expanded");
    switch (event.key) {
      case "ArrowDown": focusItem(tree, items[i + 1]); break;
      case "ArrowUp": focusItem(tree, items[i - 1]); break;
      case "Home": focusItem(tree, items[0]); break;
      case "End": focusItem(tree, items[items.length - 1]); break;
      case "ArrowRight":
        if (expanded === "false") toggle(tree, li, true);
        else if (expanded === "true") focusItem(tree, li.querySelector(":scope > ul > li[role=treeitem]"));
        break;
      case "ArrowLeft":
        if (expanded === "true") toggle(tree, li, false);
        else focusItem(tree, li.parentElement.closest("li[role=treeitem]"));
        break;
      case "Enter": li.querySelector(":scope > a").click(); break;
      default: return;
    }
    event.preventDefault();
  }

  // open the kept nodes again, in the order they were opened (a child after its parent)
  function restore(tree) {
    var chain = Promise.resolve();
    loadState(tree).forEach(function (code) {
      chain = chain.then(function () {
        var li = tree.querySelector('li[data-code="' + CSS.escape(code) + '"]');
        return li ? toggle(tree, li, true) : saveState(tree, code, false);
      });
    });
    return chain;
  }

  // "在树中定位": open the path down to a code (root first), then focus it
  function reveal(tree) {
    var path = (tree.dataset.reveal || "").split(" ").filter(Boolean);
    if (!path.length) return;
    var chain = Promise.resolve();
    path.slice(0, -1).forEach(function (code) {
      chain = chain.then(function () {
        var li = tree.querySelector('li[data-code="' + CSS.escape(code) + '"]');
        return li ? toggle(tree, li, true) : null;
      });
    });
    chain.then(function () {
      var target = tree.querySelector('li[data-code="' + CSS.escape(path[path.length - 1]) + '"]');
      if (!target) return;
      target.classList.add("revealed");
      focusItem(tree, target);
      target.scrollIntoView({ block: "center" });
    });
  }

  document.querySelectorAll("ul.tree[data-api]").forEach(function (tree) {
    tree.addEventListener("click", function (event) {
      var mark = event.target.closest(".toggle");
      if (mark && tree.contains(mark)) {
        var li = mark.closest("li[role=treeitem]");
        toggle(tree, li);
        focusItem(tree, li);
      }
    });
    tree.addEventListener("keydown", function (event) { onKey(tree, event); });
    restore(tree).then(function () { reveal(tree); });
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
