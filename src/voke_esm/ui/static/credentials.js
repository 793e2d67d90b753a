// The org's credentials, shown once after enabling or rotating, and the warning when the
// esmApiUrl Voke will call is on another origin than this page (CONTRACT §1).
import { $, $$, openDialog } from "./dom.js";

// §1: Voke sends the org's credentials to esmApiUrl. One that names another service (another
// sandbox on a neighbouring port, say) is worth a look before Voke syncs. Voke calls it from this
// machine, so a loopback URL is this service when its port is this page's (whichever loopback name
// either uses: `serve` hands out localhost and prints 127.0.0.1); any other URL must be this
// page's origin. The same rule as `serve`'s warning (config.py).
const LOOPBACK_HOST = /^(localhost|.+\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

function port(url) {
  return url.port || (url.protocol === "https:" ? "443" : "80");
}

function namesAnotherService(esmApiUrl) {
  let url;
  try {
    url = new URL(esmApiUrl);
  } catch {
    return false; // nothing to compare: the status shows the URL as it is
  }
  if (LOOPBACK_HOST.test(url.hostname)) return port(url) !== port(location);
  return url.origin !== location.origin;
}

export function showOriginWarning(element, esmApiUrl) {
  element.hidden = !esmApiUrl || !namesAnotherService(esmApiUrl);
  element.textContent = element.hidden
    ? ""
    : `Voke will call ${esmApiUrl}, but this page is served from ${location.origin}: ` +
      "if that is not this service, Voke will send it this org's credentials. " +
      "Set VOKE_ESM_INTERNAL_URL to this service's address if it is wrong.";
}

export function showCredentials(org, credentials) {
  const dialog = $("#credentials-dialog");
  $("#credentials-title").textContent = `Credentials for ${org.name}`;
  $("#cred-client-id").value = credentials.clientId;
  $("#cred-client-secret").value = credentials.clientSecret;
  $("#cred-esm-url").value = credentials.esmApiUrl;
  showOriginWarning($("#cred-url-warning"), credentials.esmApiUrl);
  for (const button of $$("[data-copy]", dialog)) button.textContent = "Copy";
  openDialog(dialog);
  $("[data-copy]", dialog).focus();
}

export function initCredentials() {
  // Closing by accident (Escape) would lose the secret for good: only the button closes it.
  $("#credentials-dialog").addEventListener("cancel", (event) => event.preventDefault());
  $("#credentials-dialog").addEventListener("close", () => {
    for (const input of $$("input", $("#credentials-dialog"))) input.value = "";
  });

  for (const button of $$("[data-copy]")) {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      let copied = false;
      try {
        await navigator.clipboard.writeText(input.value);
        copied = true;
      } catch {
        input.select();
        try {
          copied = document.execCommand("copy");
        } catch {
          copied = false;
        }
      }
      if (!copied) {
        input.focus();
        input.select();
      }
      button.textContent = copied ? "Copied" : "Press Ctrl+C";
      setTimeout(() => {
        button.textContent = "Copy";
      }, 2500);
    });
  }
}
