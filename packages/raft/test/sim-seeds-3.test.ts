import { describeSeedRange } from './helpers/seed-range.js';

describeSeedRange(3);
