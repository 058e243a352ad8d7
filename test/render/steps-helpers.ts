// What the step suites share: the fakes' state and how a step's output reads.
import { fakeState, runStep, type World } from "../fakes-world";

export const API_KEY = "k3yC0nsumer:t0kenVal:s3cretPart";

export const run = runStep;
export const maasState = (w: World) => fakeState(w, "maas");
export const jujuState = (w: World) => fakeState(w, "juju");

/** The state line a step printed last (what its next update and its delete get as PULUMI_COMMAND_STDOUT). */
export const stdoutOf = (r: { stdout: string }) => r.stdout.replace(/\n$/, "");
