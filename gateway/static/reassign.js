// The reassignment page's live progress: while the job runs, ask the gateway for it every second
// and move the bar and the words. A file, not inline script: the Content-Security-Policy runs none.
// Without script the page reloads itself instead (<noscript> refresh in the page's head).
document.addEventListener("DOMContentLoaded", function () {
  var job = document.getElementById("job");
  if (!job || job.getAttribute("data-status") !== "running") {
    return;
  }
  var bar = document.getElementById("job-progress");
  var words = document.getElementById("progress");
  var status = document.getElementById("job-status");

  function show(progress) {
    bar.max = progress.total || 1;
    bar.value = progress.total ? progress.reassigned : 1;
    bar.textContent = progress.reassigned + " / " + progress.total;
    status.textContent = progress.status;
    job.setAttribute("data-status", progress.status);
    if (progress.status === "done") {
      words.textContent = "Done: " + progress.reassigned + " of " + progress.total +
        " open tasks reassigned.";
    } else {
      words.textContent = progress.reassigned + " of " + progress.total +
        " open tasks reassigned so far…";
    }
  }

  function poll() {
    fetch(job.getAttribute("data-progress-url"), {
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error("the gateway answered " + answer.status);
        }
        return answer.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.status === "running") {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 3000);  // the gateway or the tracker away for a moment: keep asking
      });
  }

  window.setTimeout(poll, 500);
});
