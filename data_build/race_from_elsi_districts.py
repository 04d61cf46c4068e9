"""Aggregate CCD 2022-23 district-level race counts (ELSI export, as processed in
GitHub skhaji/pracc_handoff data/processed/nces_data.csv @ fe1861976fbe9c598497f1668c829a3ad69a912d)
to state level. Output: /work/staging/data/build/race_state_2223.csv"""
# Input: /tmp/nces_data_23.csv = `git show fe1861976fbe9c598497f1668c829a3ad69a912d:data/processed/nces_data.csv` from the fetched mirror of skhaji/pracc_handoff.
import pandas as pd
FIPS={'AL':'01','AK':'02','AZ':'04','AR':'05','CA':'06','CO':'08','CT':'09','DE':'10','DC':'11','FL':'12','GA':'13','HI':'15','ID':'16','IL':'17','IN':'18','IA':'19','KS':'20','KY':'21','LA':'22','ME':'23','MD':'24','MA':'25','MI':'26','MN':'27','MS':'28','MO':'29','MT':'30','NE':'31','NV':'32','NH':'33','NJ':'34','NM':'35','NY':'36','NC':'37','ND':'38','OH':'39','OK':'40','OR':'41','PA':'42','RI':'44','SC':'45','SD':'46','TN':'47','TX':'48','UT':'49','VT':'50','VA':'51','WA':'53','WV':'54','WI':'55','WY':'56'}
d=pd.read_csv('/tmp/nces_data_23.csv',dtype={'district_id':str})
d['fips']=d.district_id.str.zfill(7).str[:2]
c={'white':'white_enroll_23','black':'black_enroll_23','hispanic':'latinx_enroll_23','asian':'aapi_enroll_23',
   'aian':'enroll_native_23','nhpi':'hawpi_enroll_23','two':'two_plus_race_enroll_23','enroll':'enroll_23'}
g=d.groupby('fips')[list(c.values())].sum().rename(columns={v:k for k,v in c.items()})
base=pd.read_csv('/work/shared/data/us_states.csv')
out=[]
for _,r in base.iterrows():
    x=g.loc[FIPS[r.state]]
    tot=x[['white','black','hispanic','asian','aian','nhpi','two']].sum()
    out.append(dict(state=r.state, enroll_districts_2223=int(x.enroll), race_total_2223=int(tot),
        coverage_pct=round(x.enroll/r.enrollment*100,1),
        pct_white=round(x.white/tot*100,1), pct_black=round(x.black/tot*100,1),
        pct_hispanic=round(x.hispanic/tot*100,1), pct_asian=round(x.asian/tot*100,1),
        pct_other=round((x.aian+x.nhpi+x.two)/tot*100,1)))
o=pd.DataFrame(out); o.to_csv('/work/staging/data/build/race_state_2223.csv',index=False)
print(o.to_string())
