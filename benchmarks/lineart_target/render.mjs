// node render.mjs OUT STYLE N -- N DiceBear avatars of STYLE as OUT/<i>.svg, seeds "tgt-<style>-<i>"
// (the seeding the bundled data sets use for their DiceBear targets).
import { createAvatar } from '@dicebear/core';
import * as collection from '@dicebear/collection';
import fs from 'fs';

const [out, style, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
if (!collection[style] || !(n > 0)) {
  console.error(`usage: node render.mjs OUT STYLE N (STYLE one of: ${Object.keys(collection).join(', ')})`);
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });
for (let i = 0; i < n; i++) {
  const seed = `tgt-${style.toLowerCase()}-${i}`;
  fs.writeFileSync(`${out}/${i}.svg`, createAvatar(collection[style], { seed, size: 256 }).toString());
}
