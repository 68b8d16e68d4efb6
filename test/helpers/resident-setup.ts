// Setup file of the vitest project "resident": after each test file, stop (and wait for) every resident
// master still running — those of sites a test file did not remove — so no daemon outlives its file.
import { afterAll } from 'vitest';
import { stopAllResidentMasters } from './resident.js';

afterAll(() => stopAllResidentMasters());
