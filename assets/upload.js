// handover: resumable uploads for the scan form (tus 1.0 against
// /api/v1/uploads). Without this script the form posts as usual. With
// it, each file is sent in pieces that the server keeps as they arrive:
// the page shows each file's progress, can pause and go on, and after the
// network drops it tries again by itself, saying when. If the browser is
// closed, choosing the same file again goes on where it stopped. Each
// file's line then says what became of it, as the form's answer page does.
//
// Browser storage holds only the address of an unfinished upload, under a
// key made of the child's opaque id, the kind, and the file's size and
// date: never a name, a title or a byte of the file. It is removed once
// the upload is complete (or unknown to the server).
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form || !window.XMLHttpRequest || !window.Blob || !Blob.prototype.slice ||
      !window.localStorage || !window.TextEncoder) {
    return;
  }
  var d = form.dataset;
  var list = form.querySelector("ul.uploads");
  var button = form.querySelector("button[type=submit]");
  var PREFIX = "handover-upload:" + d.child + ":";
  var PIECE = 8 * 1024 * 1024;
  var WAITS = [1, 2, 4, 8, 15, 30, 60];

  function keyOf(kind, file) {
    return PREFIX + kind + ":" + file.size + ":" + file.lastModified;
  }
  function b64(text) {
    var bytes = new TextEncoder().encode(text);
    var s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s);
  }
  function say(template, mark, value) { return template.split(mark).join(value); }

  // Unfinished uploads of this child, from an earlier visit.
  var left = 0;
  for (var i = 0; i < localStorage.length; i++) {
    if (localStorage.key(i).indexOf(PREFIX) === 0) { left++; }
  }
  var notice = document.getElementById("unfinished");
  if (left > 0 && notice) {
    notice.textContent = left === 1 ? notice.dataset.one : say(notice.dataset.many, "%n", left);
    notice.hidden = false;
  }

  function request(method, url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      if (method !== "HEAD") { xhr.setRequestHeader("X-Handover-Form-Token", d.token); }
      Object.keys(headers).forEach(function (h) { xhr.setRequestHeader(h, headers[h]); });
      if (onProgress) { xhr.upload.onprogress = onProgress; }
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = xhr.ontimeout = function () { reject(new Error("network")); };
      xhr.onabort = function () { reject(new Error("paused")); };
      request.current = xhr;
      xhr.send(body === undefined ? null : body);
    });
  }

  function Upload(file, kind, title) {
    this.file = file;
    this.kind = kind;
    this.title = title;
    this.key = keyOf(kind, file);
    this.tries = 0;
    this.paused = false;
    var li = this.li = document.createElement("li");
    this.bar = document.createElement("progress");
    this.bar.max = 100;
    this.bar.value = 0;
    this.text = document.createElement("span");
    this.text.setAttribute("role", "status");
    this.toggle = document.createElement("button");
    this.toggle.type = "button";
    this.toggle.className = "secondary";
    this.toggle.textContent = d.msgPause;
    var self = this;
    this.toggle.addEventListener("click", function () { self.pauseOrGo(); });
    li.appendChild(this.bar);
    li.appendChild(this.text);
    li.appendChild(this.toggle);
    list.appendChild(li);
    this.show(d.msgWaiting);
  }
  Upload.prototype.show = function (message) { this.text.textContent = message; };
  Upload.prototype.progress = function (sent) {
    var percent = Math.floor((sent / this.file.size) * 100);
    this.bar.value = percent;
    this.show(say(d.msgSending, "%p", percent));
  };
  Upload.prototype.pauseOrGo = function () {
    if (this.paused) {
      this.paused = false;
      this.toggle.textContent = d.msgPause;
      this.run();
    } else {
      this.paused = true;
      this.toggle.textContent = d.msgResume;
      clearTimeout(this.timer);
      if (request.current) { request.current.abort(); }
      this.show(d.msgPaused);
    }
  };
  // Where the server stands: its offset, or a new upload.
  Upload.prototype.locate = function () {
    var self = this;
    var url = localStorage.getItem(this.key);
    if (!url) { return this.create(); }
    return request("HEAD", url, {}).then(function (xhr) {
      if (xhr.status === 200) {
        self.url = url;
        var doc = xhr.getResponseHeader("Handover-Document");
        return doc ? -1 : Number(xhr.getResponseHeader("Upload-Offset"));
      }
      localStorage.removeItem(self.key);
      return self.create();
    });
  };
  Upload.prototype.create = function () {
    var self = this;
    var meta = "child " + b64(d.child) + ",kind " + b64(this.kind);
    if (this.title) { meta += ",title " + b64(this.title); }
    return request("POST", "/api/v1/uploads", {
      "Upload-Length": String(this.file.size),
      "Upload-Metadata": meta
    }).then(function (xhr) {
      if (xhr.status !== 201) { throw self.refusal(xhr); }
      self.url = xhr.getResponseHeader("Location");
      localStorage.setItem(self.key, self.url);
      return 0;
    });
  };
  Upload.prototype.send = function (offset) {
    var self = this;
    if (offset < 0 || offset >= this.file.size) { return Promise.resolve(false); }
    var end = Math.min(offset + PIECE, this.file.size);
    return request("PATCH", this.url, {
      "Upload-Offset": String(offset),
      "Content-Type": "application/offset+octet-stream"
    }, this.file.slice(offset, end), function (e) {
      self.progress(offset + e.loaded);
    }).then(function (xhr) {
      if (xhr.status === 204) {
        self.tries = 0;
        if (xhr.getResponseHeader("Handover-Document")) {
          return xhr.getResponseHeader("Handover-Metadata-Removed") === "true";
        }
        return self.send(Number(xhr.getResponseHeader("Upload-Offset")));
      }
      if (xhr.status === 409 || xhr.status === 423) { throw new Error("network"); }
      throw self.refusal(xhr);
    });
  };
  Upload.prototype.refusal = function (xhr) {
    var type = "";
    try { type = JSON.parse(xhr.responseText).type || ""; } catch (e) { type = ""; }
    var error = new Error("refused");
    error.refused = true;
    error.message = /too-large|staged-bytes/.test(type) ? d.msgTooLarge
      : /too-many-uploads/.test(type) ? d.msgTooMany
      : /not-found|forbidden/.test(type) ? d.msgNotAllowed
      : d.msgRefused;
    return error;
  };
  Upload.prototype.run = function () {
    var self = this;
    if (this.paused || this.finished) { return; }
    this.locate().then(function (offset) {
      if (offset > 0) { self.progress(offset); }
      return self.send(offset);
    }).then(function (removed) {
      localStorage.removeItem(self.key);
      self.finished = true;
      self.bar.value = 100;
      self.toggle.hidden = true;
      self.li.className = "ok";
      self.show(!removed ? d.msgClean : d.msgDone + " " +
        (self.file.type.indexOf("image/") === 0 ? d.msgPhoto : d.msgPdf));
      self.ended(true);
    }, function (error) {
      if (self.paused) { return; }
      if (error.refused) {
        localStorage.removeItem(self.key);
        self.finished = true;
        self.toggle.hidden = true;
        self.li.className = "refused";
        self.show(error.message);
        self.ended(false);
        return;
      }
      var wait = WAITS[Math.min(self.tries, WAITS.length - 1)];
      self.tries++;
      var at = new Date(Date.now() + wait * 1000);
      self.show(say(d.msgRetry, "%t", at.toLocaleTimeString()));
      self.timer = setTimeout(function () { self.run(); }, wait * 1000);
    });
  };

  var uploads = [];
  function ended() {
    var done = uploads.filter(function (u) { return u.finished; });
    if (done.length === uploads.length) { button.disabled = false; }
  }
  Upload.prototype.ended = function (ok) { this.ok = ok; ended(); };

  window.addEventListener("online", function () {
    uploads.forEach(function (u) {
      if (!u.finished && !u.paused) { clearTimeout(u.timer); u.run(); }
    });
  });

  form.addEventListener("submit", function (event) {
    var files = form.querySelector("input[type=file]").files;
    if (!files || files.length === 0) { return; }
    event.preventDefault();
    button.disabled = true;
    if (notice) { notice.hidden = true; }
    var kind = form.querySelector("[name=kind]").value;
    var title = form.querySelector("[name=title]").value.trim();
    list.textContent = "";
    uploads = [];
    for (var i = 0; i < files.length; i++) {
      uploads.push(new Upload(files[i], kind, title));
    }
    // One file at a time: on a weak link, parallel uploads only slow each other.
    var next = 0;
    function step() {
      if (next >= uploads.length) { return; }
      var u = uploads[next++];
      var prior = u.ended;
      u.ended = function (ok) { prior.call(u, ok); step(); };
      u.run();
    }
    step();
  });
})();
