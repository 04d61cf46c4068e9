"""Assemble /work/staging/data/states.csv from the shared base file plus the fills
documented in /work/staging/data/SOURCES.md. Run with python3 + pandas."""
import pandas as pd
BASE='/work/shared/data/us_states.csv'
b=pd.read_csv(BASE, dtype=str, keep_default_na=False)
orig_cols=list(b.columns)

# ---- race shares: ELSI district aggregate, 2022-23 (estimate; see SOURCES.md) ----
r=pd.read_csv('/work/staging/data/build/race_state_2223.csv', dtype={'state':str}).set_index('state')
RACE_MIN_COVERAGE=85.0
for c in ['pct_white','pct_black','pct_hispanic','pct_asian','pct_other']:
    b[c]=[f"{r.loc[s,c]:.1f}" if r.loc[s,'coverage_pct']>=RACE_MIN_COVERAGE else '' for s in b.state]
b['year_race']=['2022-23 (est.: CCD/ELSI geographic-district aggregate)' if r.loc[s,'coverage_pct']>=RACE_MIN_COVERAGE else '' for s in b.state]
b['race_district_coverage_pct']=[f"{r.loc[s,'coverage_pct']:.1f}" for s in b.state]

# ---- funding progressivity: Urban Institute (Chingos & Blagg 2017), 2014-15, cost-adjusted state+local ----
u=pd.read_csv('/work/staging/data/build/urban_progressivity_2015.csv').set_index('State')
b['funding_progressivity']=[f"{u.loc[s,'adj_revratio_lost']:.3f}" for s in b.state]
b['year_progressivity']='2014-15'

# ---- governors / legislatures 2025 (in office Jan-Oct 2025, i.e. before the Nov 2025 elections) ----
D=set('AZ CA CO CT DE HI IL KS KY ME MD MA MI MN NJ NM NY NC OR PA RI WA WI'.split())
gov={s:('D' if s in D else 'R') for s in b.state}; gov['DC']='D'
leg_D=set('CA CO CT DE HI IL ME MD MA NV NJ NM NY OR RI VT VA WA'.split())
leg_split=set('AK MI MN PA'.split())
def leg(s):
    if s=='DC': return 'D'
    if s=='NE': return 'NP'
    return 'D' if s in leg_D else ('split' if s in leg_split else 'R')
b['governor_party_2025']=[gov[s] for s in b.state]
b['legislature_control_2025']=[leg(s) for s in b.state]
b['legislature_control_2025_model']=[('R' if s=='NE' else leg(s)) for s in b.state]
def trif(s):
    g=gov[s]; l=('R' if s=='NE' else leg(s))
    if s=='DC': return 'D (mayor+council; not a state)'
    return f'{g} trifecta' if g==l else 'divided'
b['partisan_control_2025']=[trif(s) for s in b.state]
e2025=set('NJ VA'.split()); e2027=set('KY LA MS'.split()); e2028=set('DE IN MO MT NC ND UT WA WV'.split())
b['next_governor_election']=[('2025' if s in e2025 else '2027' if s in e2027 else '2028' if s in e2028 else '2026') for s in b.state]
b['governor_term_years']=[('2' if s in ('NH','VT') else '4') for s in b.state]

# ---- litigation (coded; see SOURCES.md: partly verified, partly compiler knowledge) ----
win=set('AL AZ AR CA CT ID KS KY MA MT NH NJ NY NC OH SC TN TX VT WA WV WY'.split())
pend=set('AZ MN NH NJ NM NY NC PA WY'.split())
b['plaintiff_win_ever']=[('1' if s in win else '0') for s in b.state]
b['litigation_pending']=[('1' if s in pend else '0') for s in b.state]
b['adequacy_lawsuit']=[('pending' if s in pend else ('past plaintiff win' if s in win else 'none pending; no high-court plaintiff win')) for s in b.state]
for s in ('DC',):
    i=b.index[b.state==s][0]
    b.loc[i,['plaintiff_win_ever','litigation_pending']]=''
    b.loc[i,'adequacy_lawsuit']='n/a (not a state; no state-constitution case coded)'

# ---- schools: leave 25 empty unless filled below ----
# keep column order: original columns first (values for previously-filled cells unchanged), new ones after
new=[c for c in b.columns if c not in orig_cols]
b=b[orig_cols+new]
# safety: every originally non-empty cell unchanged
o=pd.read_csv(BASE, dtype=str, keep_default_na=False)
for c in orig_cols:
    m=o[c]!=''
    assert (o.loc[m,c]==b.loc[m,c]).all(), c
b.to_csv('/work/staging/data/states.csv', index=False)
print(b.shape); print(b.head(3).T)
