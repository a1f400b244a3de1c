// handover: upload progress for the scan form. Without this script the
// form posts as usual; with it, the same post goes through
// XMLHttpRequest so the page can show how much has been sent, and the
// server's answer page replaces this one. Nothing is kept in browser
// storage.
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form || !window.XMLHttpRequest || !window.FormData) {
    return;
  }
  var bar = form.querySelector("progress");
  var text = form.querySelector(".progress-text");
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    bar.hidden = false;
    button.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var percent = Math.floor((e.loaded / e.total) * 100);
        bar.value = percent;
        text.textContent = percent + " %";
      }
    });
    xhr.addEventListener("load", function () {
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      bar.hidden = true;
      text.textContent = "\u26a0";
    });
    xhr.send(new FormData(form));
  });
})();
