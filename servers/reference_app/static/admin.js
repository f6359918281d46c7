// The admin page's backup: REST only. POST starts a job, then poll its status every 200 ms.
// Returns a promise of the final status, so a driver can `await page.evaluate("runBackup()")`.
async function runBackup() {
  const out = document.getElementById("backup-state");
  const button = document.getElementById("backup");
  button.disabled = true;
  try {
    const started = await fetch("/api/backup", { method: "POST" });
    if (started.status !== 202) throw new Error("POST /api/backup answered " + started.status);
    const { job } = await started.json();
    out.textContent = "running (job " + job + ")";
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const res = await fetch("/api/backup/" + encodeURIComponent(job));
      if (!res.ok) throw new Error("GET /api/backup/" + job + " answered " + res.status);
      const status = await res.json();
      out.textContent = status.state + " " + status.progress + "%";
      if (status.state === "done") return status;
    }
  } catch (err) {
    out.textContent = "failed: " + err.message;
    return { state: "failed", error: err.message };
  } finally {
    button.disabled = false;
  }
}
window.runBackup = runBackup;
