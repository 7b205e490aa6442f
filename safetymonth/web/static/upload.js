// The unit's upload page: Uppy (Dashboard + Tus, Chinese) and the list of its uploads,
// refreshed from /u/<token>/files until every verdict is in. No inline script (CSP: self).
(function () {
  "use strict";
  var root = document.getElementById("unit-upload");
  if (!root || !window.Uppy) { return; }
  var U = window.Uppy;
  var uppy = new U.Uppy({
    locale: U.locales.zh_CN,
    restrictions: { maxFileSize: Number(root.dataset.maxBytes) || null },
    autoProceed: true
  });
  uppy.use(U.Dashboard, {
    inline: true, target: "#uploader", width: "100%", height: 320,
    proudlyDisplayPoweredByUppy: false, showProgressDetails: true
  });
  uppy.use(U.Tus, {
    endpoint: root.dataset.endpoint, chunkSize: 8 * 1024 * 1024,
    retryDelays: [0, 1000, 3000, 5000, 10000], removeFingerprintOnSuccess: true
  });

  function text(tag, cls, value) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    node.textContent = value;
    return node;
  }

  function verdictLine(item) {
    var fixes = item.fixes && item.fixes.length ? "：" + item.fixes.join("；") : "";
    return text("span", "verdict " + (item.ok ? "ok" : "bad"), item.summary + fixes);
  }

  function render(state) {
    var list = document.getElementById("uploads");
    list.textContent = "";
    state.uploads.forEach(function (item) {
      var li = document.createElement("li");
      li.dataset.state = item.state;
      li.appendChild(text("span", "name", item.name));
      li.appendChild(text("span", "size", item.size));
      li.appendChild(text("span", "state", item.state_name));
      item.verdicts.forEach(function (v) { li.appendChild(verdictLine(v)); });
      if (item.error) { li.appendChild(text("span", "verdict bad", item.error)); }
      list.appendChild(li);
    });
    if (!state.uploads.length) { list.appendChild(text("li", "muted", "还没有通过本链接上传的文件。")); }
    var files = document.getElementById("files");
    files.textContent = "";
    state.files.forEach(function (item) {
      var li = document.createElement("li");
      li.appendChild(text("span", "name", item.name));
      li.appendChild(text("span", "size", item.received));
      li.appendChild(verdictLine(item));
      files.appendChild(li);
    });
    document.getElementById("missing").textContent =
      state.missing.length ? state.missing.join("、") : "材料已齐全，感谢配合。";
    return state.uploads.some(function (item) { return item.state === "finished"; });
  }

  var timer = null;
  function refresh() {
    fetch(root.dataset.files, { cache: "no-store", credentials: "omit" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        var waiting = render(state);
        clearTimeout(timer);
        if (waiting || uppy.getFiles().some(function (f) { return !f.progress.uploadComplete; })) {
          timer = setTimeout(refresh, 700);
        }
      })
      .catch(function () { timer = setTimeout(refresh, 3000); });
  }
  uppy.on("upload-success", refresh);
  uppy.on("complete", function (result) {
    refresh();
    // Sent: the list below now follows them; the upload area is ready for the next file.
    if (!result.failed || !result.failed.length) {
      setTimeout(function () { (uppy.clear || uppy.cancelAll).call(uppy); }, 1500);
    }
  });
  refresh();
}());
