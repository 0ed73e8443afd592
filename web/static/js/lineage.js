/* The lineage page: a node picker (ARIA combobox over the page's own index: Chinese names, pinyin, ids)
   and pan / zoom / fit-to-width for the drawing. Plain JS, no external code. */
(function () {
  "use strict";

  // --- the node picker -----------------------------------------------------------------------
  function normalise(text) {
    return (text || "").normalize("NFKC").toLowerCase().replace(/\s+/g, "");
  }

  function rank(entry, whole) {
    if (normalise(entry.label) === whole || normalise(entry.id) === whole) return 0;
    return entry.lead.some(function (x) { return x.indexOf(whole) === 0; }) ? 1 : 2;
  }

  function search(entries, text, limit) {
    var terms = (text || "").split(/\s+/).map(normalise).filter(Boolean);
    if (!terms.length) return [];
    var whole = normalise(text);
    var found = entries.filter(function (e) {
      return terms.every(function (t) { return e.keys.indexOf(t) >= 0; });
    });
    found.sort(function (a, b) {
      return rank(a, whole) - rank(b, whole) || a.label.length - b.label.length || (a.id < b.id ? -1 : 1);
    });
    return found.slice(0, limit);
  }

  function picker(input) {
    var index = document.getElementById("node-index");
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var hidden = document.getElementById("node");
    var level = document.getElementById("level");
    if (!index || !list || !hidden) return;
    var entries = JSON.parse(index.textContent);
    var kinds = { system: list.dataset.system || "系统", dataset: list.dataset.dataset || "数据集", job: list.dataset.job || "作业" };
    var shown = [], active = -1;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(i) {
      var items = list.querySelectorAll("li[role=option]");
      items.forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (i >= 0 && items[i]) {
        input.setAttribute("aria-activedescendant", items[i].id);
        items[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(i) {
      var e = shown[i];
      if (!e) return;
      input.value = e.label;
      hidden.value = e.id;
      if (level) level.value = e.kind === "system" ? "system" : "dataset";
      close();
      input.focus();
    }

    function render() {
      shown = search(entries, input.value, 30);
      list.textContent = "";
      if (!input.value.trim()) { close(); return; }
      if (!shown.length) {
        var none = document.createElement("li");
        none.className = "none";
        none.setAttribute("role", "option");
        none.setAttribute("aria-disabled", "true");
        none.id = "node-option-none";
        none.textContent = list.dataset.none || "没有相符的节点";
        list.appendChild(none);
      }
      shown.forEach(function (e, i) {
        var li = document.createElement("li");
        li.id = "node-option-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.id = e.id;
        li.appendChild(document.createTextNode(e.label));
        var kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = kinds[e.kind] || e.kind;
        li.appendChild(kind);
        if (e.detail) {
          var detail = document.createElement("span");
          detail.className = "detail";
          detail.textContent = e.detail;
          li.appendChild(detail);
        }
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }

    input.addEventListener("input", function () { hidden.value = ""; render(); });
    input.addEventListener("keydown", function (ev) {
      var open = !list.hidden;
      if (ev.key === "ArrowDown") {
        ev.preventDefault();
        if (!open) render();
        if (shown.length) highlight(Math.min(active + 1, shown.length - 1));
      } else if (ev.key === "ArrowUp") {
        ev.preventDefault();
        if (open && shown.length) highlight(Math.max(active - 1, 0));
      } else if (ev.key === "Enter" && open && active >= 0) {
        ev.preventDefault();
        choose(active);
      } else if (ev.key === "Escape" && open) {
        ev.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  var search_input = document.getElementById("node-search");
  if (search_input) picker(search_input);

  // --- pan, zoom and fit-to-width ------------------------------------------------------------
  function zoomable(box, tools) {
    var svg = box.querySelector("svg");
    var width = parseFloat(svg.dataset.width), height = parseFloat(svg.dataset.height);
    var scale = 1, out = tools.querySelector("output");
    var MIN = 0.1, MAX = 4;

    function apply(next, cx, cy) {
      next = Math.max(MIN, Math.min(MAX, next));
      var ox = cx === undefined ? box.clientWidth / 2 : cx, oy = cy === undefined ? box.clientHeight / 2 : cy;
      var fx = (box.scrollLeft + ox) / scale, fy = (box.scrollTop + oy) / scale;
      scale = next;
      svg.setAttribute("width", Math.round(width * scale));
      svg.setAttribute("height", Math.round(height * scale));
      box.scrollLeft = fx * scale - ox;
      box.scrollTop = fy * scale - oy;
      box.dataset.scale = scale.toFixed(3);
      if (out) out.textContent = Math.round(scale * 100) + "%";
    }

    function fit() { apply(Math.min(1, (box.clientWidth - 2) / width)); box.scrollLeft = 0; }

    var actions = {
      "in": function () { apply(scale * 1.25); },
      "out": function () { apply(scale / 1.25); },
      "fit": fit,
      "reset": function () { apply(1); }
    };
    tools.hidden = false;
    tools.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-zoom]");
      if (b) actions[b.dataset.zoom]();
    });
    box.addEventListener("keydown", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var key = { "+": "in", "=": "in", "-": "out", "_": "out", "0": "fit", "1": "reset" }[ev.key];
      if (key) { ev.preventDefault(); actions[key](); }
    });
    box.addEventListener("wheel", function (ev) {
      if (!ev.ctrlKey) return;  // a plain wheel scrolls; Ctrl+wheel zooms about the pointer
      ev.preventDefault();
      var r = box.getBoundingClientRect();
      apply(scale * (ev.deltaY < 0 ? 1.15 : 1 / 1.15), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });

    var drag = null, moved = false;
    box.addEventListener("pointerdown", function (ev) {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, left: box.scrollLeft, top: box.scrollTop };
      moved = false;
    });
    window.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 5) return;
      moved = true;
      box.classList.add("panning");
      box.scrollLeft = drag.left - dx;
      box.scrollTop = drag.top - dy;
    });
    window.addEventListener("pointerup", function () { drag = null; box.classList.remove("panning"); });
    box.addEventListener("click", function (ev) {  // a drag that ends on a node is not a click on it
      if (moved) { ev.preventDefault(); moved = false; }
    }, true);
    box.addEventListener("dragstart", function (ev) { ev.preventDefault(); });

    // a drawing wider than its box starts fitted to the width while the text stays readable (≥ 60%)
    if (width > box.clientWidth && (box.clientWidth - 2) / width >= 0.6) fit();
    else apply(1);
  }

  var box = document.getElementById("graph"), tools = document.getElementById("graph-tools");
  if (box && tools) zoomable(box, tools);
})();
