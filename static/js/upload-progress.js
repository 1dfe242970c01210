// Upload progress for forms marked data-upload-progress (progressive enhancement).
//
// Without this script the form posts normally. With it, the file is sent with XMLHttpRequest so
// the page can show how many bytes have reached the server: the browser's own upload progress
// events, not an estimate. The server answers an XHR request with {"location": url} where it
// would redirect (to the return, or to the page that follows a background check), or with the
// page itself (the form with every problem listed), whose <main> replaces this one.
(function () {
  "use strict";

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function swapMain(html, status) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var incoming = doc.querySelector("main");
    var current = document.querySelector("main");
    if (!incoming || !current) {
      document.open();
      document.write(html);
      document.close();
      return;
    }
    current.replaceWith(document.importNode(incoming, true));
    if (doc.title) {
      document.title = doc.title;
    }
    init();
    var summary = document.querySelector(".govuk-error-summary");
    if (summary) {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
    if (status >= 500) {
      window.scrollTo(0, 0);
    }
  }

  function enhance(form) {
    if (form.dataset.uploadProgressReady) {
      return;
    }
    form.dataset.uploadProgressReady = "1";
    var panel = form.querySelector("[data-upload-progress-panel]");
    var bar = form.querySelector("progress");
    var text = form.querySelector("[data-upload-progress-text]");
    var button = form.querySelector("button[type=submit]");
    var input = form.querySelector("input[type=file]");

    form.addEventListener("submit", function (event) {
      if (!input || !input.files || input.files.length === 0) {
        return; // nothing to upload: let the server say "Choose a file"
      }
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action") || window.location.href);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      panel.hidden = false;
      button.disabled = true;
      button.setAttribute("aria-disabled", "true");
      text.textContent = "Starting the upload…";

      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) {
          text.textContent = "Uploaded " + megabytes(e.loaded) + ".";
          return;
        }
        var percent = Math.floor((100 * e.loaded) / e.total);
        bar.value = percent;
        bar.textContent = percent + "%";
        text.textContent = "Uploaded " + megabytes(e.loaded) + " of " + megabytes(e.total) +
          " (" + percent + "%).";
      });
      xhr.upload.addEventListener("load", function () {
        bar.value = 100;
        text.textContent = "Upload complete. Checking the file: nothing is saved unless every " +
          "row is correct.";
      });
      xhr.addEventListener("load", function () {
        var type = xhr.getResponseHeader("Content-Type") || "";
        if (type.indexOf("application/json") === 0) {
          var answer = JSON.parse(xhr.responseText);
          window.location.assign(answer.location);
          return;
        }
        swapMain(xhr.responseText, xhr.status);
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
        text.textContent = "The upload failed: the connection was lost. Nothing has been saved. " +
          "Check your connection and upload the file again.";
      });
      xhr.send(new FormData(form));
    });
  }

  function init() {
    if (!window.XMLHttpRequest || !window.FormData || !window.DOMParser) {
      return;
    }
    document.querySelectorAll("form[data-upload-progress]").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
