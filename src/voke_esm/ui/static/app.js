// The admin page (CONTRACT §10): sign in, pick an org, enable or disable its sandbox,
// manage its plants, and use the sandbox tools of §11 (journal, faults, snapshot, reset, clock).
// This entry module wires the cards together and starts the page; each card is a module of its
// own, loaded by the browser as ES modules from this service (no build step, no CDN).
import { describeError } from "./api.js";
import { initCredentials } from "./credentials.js";
import { $, initDialogs } from "./dom.js";
import { detectFeatures } from "./features.js";
import { initFaults, loadFaults } from "./faults.js";
import { initJournal, loadJournal } from "./journal.js";
import { initOrgs, loadOrgData } from "./orgs.js";
import { initPlantDay } from "./plant-day.js";
import { initPlants } from "./plants.js";
import { initSandbox } from "./sandbox.js";
import { SessionEnded, api, followOtherTabs, restoreToken } from "./session.js";
import { initSignIn, showAdmin, showSignIn, signOut } from "./signin.js";
import { state } from "./state.js";

const JOURNAL_REFRESH_MS = 5000;

initDialogs();
initSignIn();
initOrgs();
initCredentials();
initPlants({ reloadOrg: loadOrgData });
initPlantDay();
initJournal();
initFaults();
initSandbox({ reloadOrg: loadOrgData });
// A sign-in or sign-out in another tab of this origin counts here too.
followOtherTabs({
  onSignIn: () => boot(),
  onSignOut: () => signOut("You signed out in another tab."),
});

// The journal and the faults (their counts go down as rules fire) follow the trading calls
// while the page is in view; an edit of the faults not saved yet is left alone.
setInterval(() => {
  const showing = state.token && !$("#admin-view").hidden && !$("#journal-card").hidden;
  if (showing && !state.journalPaused && document.visibilityState === "visible") {
    loadJournal({ quiet: true });
    loadFaults({ quiet: true }); // an unsaved edit keeps its fields; counts still follow
  }
}, JOURNAL_REFRESH_MS);

async function boot() {
  restoreToken();
  const telemetry = detectFeatures();
  if (!state.token) {
    await telemetry;
    showSignIn();
    return;
  }
  try {
    const [me] = await Promise.all([api("GET", "/api/v1/auth/me"), telemetry]);
    if (me.role !== "SUPER_ADMIN") {
      signOut(`${me.email} is not a SuperAdmin; this page needs a SuperAdmin account.`);
      return;
    }
    state.me = me;
    await showAdmin();
  } catch (error) {
    if (error instanceof SessionEnded) return;
    showSignIn(describeError(error));
  }
}

boot();
