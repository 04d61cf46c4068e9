"""One module per roadmap mechanism. Each is a few functions over the typed arrays of
`equitysim.arrays`, called in the order `equitysim.model.EquityModel.step` names:

| module            | roadmap / guide row                                                    |
|-------------------|------------------------------------------------------------------------|
| elections         | risk "leadership change": elections, superintendent turnover, climate  |
| coalitions        | "build broad coalitions": breadth, strength, fatigue, coalition phases |
| diffusion         | the multi-level diagram: neighbours, regional peers, success stories  |
| adoption          | the phase tables: federal, state and district adoption                 |
| backlash          | risk "political backlash": visibility, climate shocks, repeal          |
| funding           | risk "funding cuts": recessions, budgets, school-finance formulas      |
| courts            | risk "court challenges": challenges and strike-downs                   |
| capacity          | the guide's three constraints (budget, time, buy-in) and prerequisites |
| implementation    | risk "implementation failure": phases, fidelity, burnout               |
| outcomes          | success indicators: segregation, discipline, courses, teachers, gains  |
| reflection        | the guide's reflect step: public wins and their stories                |

Every behavioural number is a registry parameter read as `m.par.<name>`
(tests/test_mechanisms.py fails on a float literal here other than 0, 1 and 0.5).
"""
