// Initialise GOV.UK Frontend components once the DOM has loaded (module scripts are deferred).
import { initAll } from "/assets/govuk/govuk-frontend.min.js";

document.body.classList.add("govuk-frontend-supported");
initAll();
